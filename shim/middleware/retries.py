"""Retries: re-enqueue failed messages with Dramatiq's exponential backoff."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..common import compute_backoff
from ..errors import Abort, Retry
from .middleware import Middleware

if TYPE_CHECKING:
    from ..actor import Actor
    from ..broker import Broker, MessageProxy

DEFAULT_MIN_BACKOFF = 15_000
DEFAULT_MAX_BACKOFF = 86_400_000 * 7


def retry_delay(
    retries: int, exception: BaseException, options: dict[str, Any], actor: Actor[Any, Any], min_default: int,
    max_default: int,
) -> int:
    """The delay (ms) before retry number ``retries + 1``: Retry.delay, else jittered backoff."""
    if isinstance(exception, Retry) and exception.delay is not None:
        return exception.delay
    min_backoff = options.get("min_backoff", actor.options.get("min_backoff", min_default))
    max_backoff = min(options.get("max_backoff", actor.options.get("max_backoff", max_default)), DEFAULT_MAX_BACKOFF)
    _, delay = compute_backoff(retries, factor=min_backoff, max_backoff=max_backoff)
    return delay


def retries_exhausted(
    retries: int, exception: BaseException, max_retries: int | None,
    retry_when: Callable[[int, BaseException], bool] | None,
) -> bool:
    """Whether a message that failed ``retries`` times before must not be retried again."""
    if retry_when is not None:
        return not retry_when(retries, exception)
    return max_retries is not None and retries >= max_retries


class Retries(Middleware):
    """Retry failed messages with exponential backoff.

    ``throws`` exceptions and aborts are never retried; ``retry_when`` takes precedence over
    ``max_retries``; ``on_retry_exhausted`` names an actor sent ``(message_dict,
    {"retries", "max_retries"})`` when retries run out.

    Args:
        max_retries: The default maximum number of retries.
        min_backoff: The minimum backoff in milliseconds (15 s).
        max_backoff: The maximum backoff in milliseconds (7 days).
        retry_when: A predicate ``(retries, exception) -> bool``.
    """

    def __init__(
        self,
        *,
        max_retries: int = 20,
        min_backoff: int | None = None,
        max_backoff: int | None = None,
        retry_when: Callable[[int, BaseException], bool] | None = None,
    ) -> None:
        self.logger = logging.getLogger(__name__)
        self.max_retries = max_retries
        self.min_backoff = min_backoff or DEFAULT_MIN_BACKOFF
        self.max_backoff = max_backoff or DEFAULT_MAX_BACKOFF
        self.retry_when = retry_when

    @property
    def actor_options(self) -> set[str]:
        return {"max_retries", "min_backoff", "max_backoff", "retry_when", "throws", "on_retry_exhausted"}

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None:
            return
        actor = broker.get_actor(message.actor_name)
        throws = message.options.get("throws") or actor.options.get("throws")
        if (throws and isinstance(exception, throws)) or isinstance(exception, Abort):
            self.logger.info("Aborting message %r.", message.message_id)
            message.fail()
            return
        retries = message.options.setdefault("retries", 0)
        message.options["retries"] += 1
        message.options["traceback"] = traceback.format_exc(limit=30)
        message.options["requeue_timestamp"] = int(time.time() * 1000)
        max_retries = message.options.get("max_retries", actor.options.get("max_retries", self.max_retries))
        retry_when = actor.options.get("retry_when", self.retry_when)
        if retries_exhausted(retries, exception, max_retries, retry_when):
            self.logger.warning("Retries exceeded for message %r.", message.message_id)
            message.fail()
            target = message.options.get("on_retry_exhausted") or actor.options.get("on_retry_exhausted")
            if target:
                broker.get_actor(target).send(message.asdict(), {"retries": retries, "max_retries": max_retries})
            return
        delay = retry_delay(retries, exception, message.options, actor, self.min_backoff, self.max_backoff)
        self.logger.info("Retrying message %r in %d milliseconds.", message.message_id, delay)
        broker.enqueue(message.message, delay=delay)
