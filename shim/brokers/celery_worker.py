"""An in-process Celery worker (thread pool) consuming a RedisBroker's queues."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from celery.worker import state as worker_state

from ..common import q_name

if TYPE_CHECKING:
    from ..worker import Worker
    from .redis import RedisBroker

logger = logging.getLogger(__name__)
START_TIMEOUT_S = 30.0


class CeleryEngine:
    """Runs ``app.WorkController`` with the threads pool in a background thread."""

    def __init__(self, broker: RedisBroker, worker: Worker) -> None:
        self.broker = broker
        self.worker = worker
        self.controller: Any = None
        self.thread: threading.Thread | None = None
        self.queues: set[str] = set()
        self.lock = threading.Lock()
        self.paused = False

    def _wanted(self, queue_name: str) -> bool:
        whitelist = self.worker.consumer_whitelist
        return not whitelist or q_name(queue_name) in whitelist

    def start(self) -> None:
        ready = threading.Event()
        base = self.broker.app.WorkController

        class Controller(base):  # type: ignore[misc, valid-type]
            def on_consumer_ready(self, consumer: Any) -> None:
                super().on_consumer_ready(consumer)
                ready.set()

        whitelist = self.worker.consumer_whitelist
        # Celery consumes at least one queue: with nothing declared yet, the whitelist itself
        # (never another queue), else Dramatiq's first queue.
        self.queues = {q for q in self.broker.get_declared_queues() if self._wanted(q)} or set(whitelist or {"default"})
        self.broker.mark_worker_started()
        self.broker.app.finalize()
        # Thread-pool workers resolve tasks through the current/default app.
        self.broker.app.set_current()
        self.broker.app.set_default()
        self.controller = Controller(
            app=self.broker.app,
            hostname=f"shim-{uuid.uuid4().hex[:8]}@localhost",
            pool_cls="threads",
            concurrency=self.worker.worker_threads,
            queues=sorted(self.queues),
            loglevel="WARNING",
            without_heartbeat=not self.broker.events,
            without_mingle=True,
            without_gossip=True,
            ready_callback=None,
        )
        worker_state.should_stop = None
        worker_state.should_terminate = None
        self.thread = threading.Thread(target=self.controller.start, name="shim-celery-worker", daemon=True)
        self.thread.start()
        if not ready.wait(START_TIMEOUT_S):
            raise RuntimeError("the in-process Celery worker did not start within 30 s")
        self.broker._engines.append(self)

    def add_queue(self, queue_name: str) -> None:
        with self.lock:
            if queue_name in self.queues or not self._wanted(queue_name) or self.controller is None:
                return
            self.queues.add(queue_name)
            if self.paused:  # consumed on resume
                return
        consumer = self.controller.consumer
        consumer.call_soon(consumer.add_task_queue, queue_name)

    def pause(self) -> None:
        """Cancel every queue's consumer, then wait until no task is reserved or running."""
        self._set_paused(True)
        while worker_state.reserved_requests or worker_state.active_requests:
            time.sleep(0.01)

    def resume(self) -> None:
        self._set_paused(False)

    def _set_paused(self, paused: bool) -> None:
        """Cancel (pause) or add again (resume) the consumer of every declared queue."""
        consumer = self.controller.consumer
        with self.lock:
            queues = sorted(self.queues)
            self.paused = paused
        switch = consumer.cancel_task_queue if paused else consumer.add_task_queue
        for queue_name in queues:
            consumer.call_soon(switch, queue_name)

    def stop(self, timeout: int) -> None:
        if self in self.broker._engines:
            self.broker._engines.remove(self)
        if self.thread is None:
            return
        # The consumer loop polls this flag: a warm shutdown that lets running tasks finish.
        worker_state.should_stop = 0
        self.thread.join(timeout / 1000)
        worker_state.should_stop = None
        if self.thread.is_alive():
            raise RuntimeError(f"the in-process Celery worker did not stop within {timeout} ms")
        self.thread = None

    def join(self) -> None:
        for queue_name in sorted(self.queues):
            self.broker.join(queue_name)
