"""ShutdownNotifications: interrupt opted-in actors when their worker shuts down."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from ..errors import Shutdown
from ..threading import raise_thread_exception
from .middleware import Middleware

if TYPE_CHECKING:
    from ..actor import Actor
    from ..broker import Broker, MessageProxy
    from ..worker import Worker

__all__ = ["Shutdown", "ShutdownNotifications"]


class ShutdownNotifications(Middleware):
    """Raise Shutdown in the threads of actors with ``notify_shutdown`` when the worker stops.

    Args:
        notify_shutdown: The default for actors that do not set the option.
    """

    def __init__(self, notify_shutdown: bool = False) -> None:
        self.logger = logging.getLogger(__name__)
        self.notify_shutdown = notify_shutdown
        self.notifications: set[int] = set()
        self.lock = threading.Lock()

    @property
    def actor_options(self) -> set[str]:
        return {"notify_shutdown"}

    def should_notify(self, actor: Actor[Any, Any], message: MessageProxy) -> bool:
        """Whether this message's thread should be interrupted on shutdown."""
        notify = message.options.get("notify_shutdown")
        if notify is None:
            notify = actor.options.get("notify_shutdown")
        if notify is None:
            notify = self.notify_shutdown
        return bool(notify)

    def before_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        with self.lock:
            threads = list(self.notifications)
        for thread_id in threads:
            self.logger.info("Worker shutdown notification. Raising exception in worker thread %r.", thread_id)
            raise_thread_exception(thread_id, Shutdown)

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        if self.should_notify(broker.get_actor(message.actor_name), message):
            with self.lock:
                self.notifications.add(threading.get_ident())

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        self._forget(threading.get_ident())

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        self._forget(threading.get_ident())

    def _forget(self, thread_id: int) -> None:
        # Most messages never opt in: skip the lock when there is nothing to remove.
        if thread_id in self.notifications:
            with self.lock:
                self.notifications.discard(thread_id)
