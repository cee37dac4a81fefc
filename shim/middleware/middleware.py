"""The middleware base class: no-op hooks that subclasses override."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import MiddlewareError, SkipMessage

if TYPE_CHECKING:
    from ..actor import Actor
    from ..broker import Broker, MessageProxy
    from ..message import Message
    from ..worker import Worker

__all__ = ["Middleware", "MiddlewareError", "SkipMessage"]


class Middleware:
    """Base class for broker middleware; every hook is a no-op by default."""

    @property
    def actor_options(self) -> set[str]:
        """The option names this middleware lets actors set."""
        return set()

    @property
    def forks(self) -> list[Callable[[], int]]:
        """Functions to run in forked processes (unused by the shim's workers)."""
        return []

    def before_ack(self, broker: Broker, message: MessageProxy) -> None:
        """Called before a message is acknowledged."""

    def after_ack(self, broker: Broker, message: MessageProxy) -> None:
        """Called after a message has been acknowledged."""

    def before_nack(self, broker: Broker, message: MessageProxy) -> None:
        """Called before a message is rejected."""

    def after_nack(self, broker: Broker, message: MessageProxy) -> None:
        """Called after a message has been rejected."""

    def before_declare_actor(self, broker: Broker, actor: Actor[Any, Any]) -> None:
        """Called before an actor is declared."""

    def after_declare_actor(self, broker: Broker, actor: Actor[Any, Any]) -> None:
        """Called after an actor has been declared."""

    def before_declare_queue(self, broker: Broker, queue_name: str) -> None:
        """Called before a queue is declared."""

    def after_declare_queue(self, broker: Broker, queue_name: str) -> None:
        """Called after a queue has been declared."""

    def after_declare_delay_queue(self, broker: Broker, queue_name: str) -> None:
        """Called after a delay queue has been declared."""

    def before_enqueue(self, broker: Broker, message: Message[Any], delay: int | None) -> None:
        """Called before a message is enqueued (including retries)."""

    def after_enqueue(self, broker: Broker, message: Message[Any], delay: int | None) -> None:
        """Called after a message has been enqueued (including retries)."""

    def before_delay_message(self, broker: Broker, message: MessageProxy) -> None:
        """Called before a delayed message is held until its eta."""

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        """Called before a message is processed; may raise SkipMessage."""

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        """Called after a message has been processed."""

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        """Called instead of ``after_process_message`` when a message was skipped."""

    def after_process_boot(self, broker: Broker) -> None:
        """Called when a worker process has started."""

    def before_worker_boot(self, broker: Broker, worker: Worker) -> None:
        """Called before a worker starts."""

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        """Called after a worker has started."""

    def before_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        """Called before a worker shuts down."""

    def after_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        """Called after a worker has shut down."""

    def after_consumer_thread_boot(self, broker: Broker, thread: Any) -> None:
        """Called when a consumer thread starts."""

    def before_consumer_thread_shutdown(self, broker: Broker, thread: Any) -> None:
        """Called before a consumer thread stops."""

    def after_worker_thread_boot(self, broker: Broker, thread: Any) -> None:
        """Called when a worker thread starts."""

    def before_worker_thread_shutdown(self, broker: Broker, thread: Any) -> None:
        """Called before a worker thread stops."""
