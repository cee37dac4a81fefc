"""Pipelines: feed each pipeline stage's result into the next stage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..message import Message
from .middleware import Middleware

if TYPE_CHECKING:
    from ..broker import Broker, MessageProxy


class Pipelines(Middleware):
    """Enqueue ``pipe_target`` after a successful message, appending the result to its args
    unless ``pipe_ignore`` is set."""

    @property
    def actor_options(self) -> set[str]:
        return {"pipe_ignore", "pipe_target"}

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is not None or message.failed:
            return
        actor = broker.get_actor(message.actor_name)
        target = message.options.get("pipe_target")
        if target is None:
            return
        next_message: Message[Any] = Message(**target)
        if not (next_message.options.get("pipe_ignore") or actor.options.get("pipe_ignore")):
            next_message = next_message.copy(args=(*next_message.args, result))
        broker.enqueue(next_message, delay=next_message.options.get("delay"))
