"""Callbacks: send a message to ``on_success``/``on_failure`` actors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .middleware import Middleware

if TYPE_CHECKING:
    from ..broker import Broker, MessageProxy


class Callbacks(Middleware):
    """Chain success and failure callbacks onto actors.

    ``on_success`` receives ``(message_dict, result)``; ``on_failure`` receives
    ``(message_dict, {"type": exception class name, "message": str(exception)})``.
    """

    @property
    def actor_options(self) -> set[str]:
        return {"on_failure", "on_success"}

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        actor = broker.get_actor(message.actor_name)
        if exception is None:
            target = message.options.get("on_success") or actor.options.get("on_success")
            if target:
                broker.get_actor(target).send(message.asdict(), result)
            return
        target = message.options.get("on_failure") or actor.options.get("on_failure")
        if target:
            failure = {"type": type(exception).__name__, "message": str(exception)}
            broker.get_actor(target).send(message.asdict(), failure)
