"""AgeLimit: skip (and fail) messages older than ``max_age`` milliseconds."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..common import current_millis
from ..errors import SkipMessage
from .middleware import Middleware

if TYPE_CHECKING:
    from ..broker import Broker, MessageProxy


class AgeLimit(Middleware):
    """Drop messages that have waited longer than their age limit.

    Args:
        max_age: The default age limit in milliseconds; ``None`` means unlimited.
    """

    def __init__(self, *, max_age: int | None = None) -> None:
        self.logger = logging.getLogger(__name__)
        self.max_age = max_age

    @property
    def actor_options(self) -> set[str]:
        return {"max_age"}

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        actor = broker.get_actor(message.actor_name)
        max_age = message.options.get("max_age") or actor.options.get("max_age", self.max_age)
        if not max_age:
            return
        if current_millis() - message.message_timestamp >= max_age:
            self.logger.warning("Message %r has exceeded its age limit.", message.message_id)
            message.fail()
            raise SkipMessage("Message age limit exceeded")
