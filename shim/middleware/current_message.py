"""CurrentMessage: expose the message being processed through a context variable."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any

from .middleware import Middleware

if TYPE_CHECKING:
    from ..broker import Broker, MessageProxy
    from ..message import Message


class CurrentMessage(Middleware):
    """Make the current message available to actor code via :meth:`get_current_message`."""

    _MESSAGE: contextvars.ContextVar[Message[Any] | None] = contextvars.ContextVar("_MESSAGE", default=None)

    @classmethod
    def get_current_message(cls) -> Message[Any] | None:
        """The message that triggered the running actor, or ``None`` outside actor code."""
        return cls._MESSAGE.get()

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        self._MESSAGE.set(message)  # type: ignore[arg-type]

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        self._MESSAGE.set(None)
