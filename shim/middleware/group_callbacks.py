"""GroupCallbacks: enqueue a group's completion callbacks when its last member succeeds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..rate_limits import Barrier, RateLimiterBackend
from .middleware import Middleware

if TYPE_CHECKING:
    from ..broker import Broker, MessageProxy


class GroupCallbacks(Middleware):
    """Enable ``group.add_completion_callback`` through a barrier in a rate-limiter backend.

    Args:
        rate_limiter_backend: Where the group's barrier lives.
        barrier_ttl: How long (ms) a barrier may live.
    """

    def __init__(self, rate_limiter_backend: RateLimiterBackend, *, barrier_ttl: int = 86_400_000) -> None:
        self.rate_limiter_backend = rate_limiter_backend
        self.barrier_ttl = barrier_ttl

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        from ..message import Message

        if exception is not None:
            return
        completion_uuid = message.options.get("group_completion_uuid")
        callbacks = message.options.get("group_completion_callbacks")
        if not (completion_uuid and callbacks):
            return
        barrier = Barrier(self.rate_limiter_backend, completion_uuid, ttl=self.barrier_ttl)
        if barrier.wait(block=False):
            for data in callbacks:
                broker.enqueue(Message(**data))
