"""Abortable: skip aborted pending messages and interrupt aborted running ones."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import Abort, SkipMessage
from ..middleware.middleware import Middleware
from ..threading import raise_thread_exception
from .backend import AbortBackend, AbortRequest

if TYPE_CHECKING:
    from ..broker import Broker, MessageProxy
    from ..worker import Worker

_CURRENT: contextvars.ContextVar[_Running | None] = contextvars.ContextVar("_shim_abort", default=None)

POLL_INTERVAL_S = 1.0


@dataclass
class _Running:
    message_id: str
    thread_id: int
    requested_at: float | None = None
    deadline: float | None = None
    interrupted: bool = False


class Abortable(Middleware):
    """Make actors abortable with :func:`shim.abort.abort`.

    A pending aborted message is skipped (and failed, so it is never retried). A running one
    in ``"abort"`` mode sees :func:`shim.abort.abort_requested` at once (the request arrives by
    pub/sub, with a 1 s poll as a fallback) and gets Abort raised in its thread once
    ``abort_timeout`` ms have passed; async actors are cancelled. ``"cancel"`` mode leaves
    running messages alone.

    Args:
        backend: Where abort requests live.
        abortable: The default for actors that do not set the ``abortable`` option.
    """

    def __init__(self, *, backend: AbortBackend, abortable: bool = True) -> None:
        self.logger = logging.getLogger(__name__)
        self.backend = backend
        self.abortable = abortable
        self.running: dict[str, _Running] = {}
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def actor_options(self) -> set[str]:
        return {"abortable"}

    def _is_abortable(self, broker: Broker, message: MessageProxy) -> bool:
        option = message.options.get("abortable")
        if option is None:
            option = broker.get_actor(message.actor_name).options.get("abortable", self.abortable)
        return bool(option)

    def _ensure_started(self) -> None:
        with self.lock:
            if self._threads and all(thread.is_alive() for thread in self._threads):
                return
            self._stop.clear()
            self._threads = [
                threading.Thread(target=self.backend.listen, args=(self._on_request, self._stop), daemon=True),
                threading.Thread(target=self._watch, daemon=True),
            ]
            for thread in self._threads:
                thread.start()

    def after_process_boot(self, broker: Broker) -> None:
        self._ensure_started()

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        self._ensure_started()

    def after_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        self._stop.set()

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        if not self._is_abortable(broker, message):
            return
        self._ensure_started()
        if self.backend.get(message.message_id) is not None:
            self.logger.info("Message %r was aborted before it started.", message.message_id)
            message.fail()
            raise SkipMessage("Message was aborted before it started")
        running = _Running(message.message_id, threading.get_ident())
        with self.lock:
            self.running[message.message_id] = running
        _CURRENT.set(running)

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        with self.lock:
            self.running.pop(message.message_id, None)
        _CURRENT.set(None)

    def _on_request(self, message_id: str) -> None:
        with self.lock:
            running = self.running.get(message_id)
        if running is None:
            return
        request = self.backend.get(message_id)
        if request is not None:
            self._apply(running, request)

    def _apply(self, running: _Running, request: AbortRequest) -> None:
        if request.mode != "abort" or running.requested_at is not None:
            return
        now = time.monotonic()
        with self.lock:
            running.requested_at = now
            running.deadline = now + request.abort_timeout / 1000
        self._interrupt_due()

    def _interrupt_due(self) -> None:
        now = time.monotonic()
        with self.lock:
            due = [
                r for r in self.running.values() if r.deadline is not None and not r.interrupted and now >= r.deadline
            ]
            for running in due:
                running.interrupted = True
        for running in due:
            self.logger.warning("Aborting running message %r.", running.message_id)
            raise_thread_exception(running.thread_id, Abort)

    def _watch(self) -> None:
        last_poll = 0.0
        while not self._stop.wait(0.02):
            self._interrupt_due()
            if time.monotonic() - last_poll >= POLL_INTERVAL_S:
                last_poll = time.monotonic()
                with self.lock:
                    pending = [r for r in self.running.values() if r.requested_at is None]
                for running in pending:
                    request = self.backend.get(running.message_id)
                    if request is not None:
                        self._apply(running, request)


def current_abort_state() -> tuple[float | None, float | None]:
    """``(requested_at, deadline)`` monotonic times of the current message's abort request."""
    running = _CURRENT.get()
    if running is None:
        return None, None
    return running.requested_at, running.deadline
