"""TimeLimit: interrupt actors that run longer than their time limit."""

from __future__ import annotations

import logging
import os
import threading
from time import monotonic, sleep
from typing import TYPE_CHECKING, Any

from ..errors import TimeLimitExceeded
from ..threading import raise_thread_exception
from .middleware import Middleware

if TYPE_CHECKING:
    from ..actor import Actor
    from ..broker import Broker, MessageProxy

__all__ = ["TimeLimit", "TimeLimitExceeded", "resolve_time_limit"]

DEFAULT_TIME_LIMIT = 600_000


def resolve_time_limit(options: dict[str, Any], actor: Actor[Any, Any], default: float) -> float:
    """The time limit (ms) of a message: its option, else the actor's, else the default."""
    limit: float = options.get("time_limit") or actor.options.get("time_limit", default)
    return limit


class TimeLimit(Middleware):
    """Cancel actors that run for too long by raising TimeLimitExceeded in their thread.

    Async actors are cancelled too: the waiting worker thread receives the exception and
    cancels the coroutine. Blocking system calls are only interrupted when they return.

    Args:
        time_limit: The default limit in milliseconds (10 minutes); ``float("inf")`` for none.
        interval: How often, in milliseconds, deadlines are checked.
    """

    def __init__(self, *, time_limit: float = DEFAULT_TIME_LIMIT, interval: int = 1000) -> None:
        self.logger = logging.getLogger(__name__)
        self.time_limit = time_limit
        self.manager = _DeadlineManager(interval, self.logger)

    @property
    def actor_options(self) -> set[str]:
        return {"time_limit"}

    def after_process_boot(self, broker: Broker) -> None:
        self.manager.ensure_started()

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        actor = broker.get_actor(message.actor_name)
        self.manager.ensure_started()
        self.manager.add_timeout(threading.get_ident(), resolve_time_limit(message.options, actor, self.time_limit))

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        self.manager.remove_timeout(threading.get_ident())

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        self.manager.remove_timeout(threading.get_ident())


class _Deadline:
    __slots__ = ("at", "fired")

    def __init__(self, at: float) -> None:
        self.at = at
        self.fired = False


class _DeadlineManager:
    def __init__(self, interval: int, logger: logging.Logger) -> None:
        self.interval = interval / 1000
        self.logger = logger
        self.deadlines: dict[int, _Deadline | None] = {}
        self.lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def ensure_started(self) -> None:
        # Called for every message: the common case must not take the lock. The thread never
        # returns, so only a fork (a new process without it) calls for a new one.
        if self._pid == os.getpid():
            return
        with self.lock:
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="shim-time-limit", daemon=True)
                self._thread.start()
                self._pid = os.getpid()

    # Each worker thread only ever writes its own slot, and a dict item assignment is atomic,
    # so the per-message calls take no lock; the checker reads a snapshot and marks the
    # deadline object it saw, never the slot, so it cannot erase the next message's deadline.
    def add_timeout(self, thread_id: int, ttl: float) -> None:
        self.deadlines[thread_id] = _Deadline(monotonic() + ttl / 1000)

    def remove_timeout(self, thread_id: int) -> None:
        self.deadlines[thread_id] = None

    def _expired(self) -> list[int]:
        now = monotonic()
        expired: list[int] = []
        for thread_id, deadline in list(self.deadlines.items()):
            if deadline is not None and not deadline.fired and now >= deadline.at:
                deadline.fired = True
                expired.append(thread_id)
        return expired

    def _still_running(self, thread_id: int) -> bool:
        deadline = self.deadlines.get(thread_id)
        return deadline is not None and deadline.fired

    def _run(self) -> None:
        while True:
            try:
                for thread_id in self._expired():
                    if not self._still_running(thread_id):
                        continue
                    self.logger.warning("Time limit exceeded. Raising exception in worker thread %r.", thread_id)
                    raise_thread_exception(thread_id, TimeLimitExceeded)
            except Exception:
                # ensure_started trusts this thread to live as long as its process.
                self.logger.exception("The time limit thread failed to interrupt a thread.")
            sleep(self.interval)
