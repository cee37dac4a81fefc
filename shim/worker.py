"""The Worker: consumes a broker's queues and processes messages until stopped."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .broker import Broker

WORKER_TIMEOUT = 1000
QUEUE_PREFETCH = 0
"""Messages each consumer holds ahead of the worker threads; 0: twice ``worker_threads`` (Dramatiq's)."""
DELAY_QUEUE_PREFETCH = 0
"""Delayed messages each consumer holds; 0: a thousand times ``worker_threads`` (Dramatiq's)."""


class WorkerEngine(Protocol):
    """What a broker provides to actually consume messages for a Worker."""

    def start(self) -> None:
        """Start consuming."""

    def stop(self, timeout: int) -> None:
        """Stop consuming, letting in-flight messages finish within ``timeout`` ms."""

    def pause(self) -> None:
        """Stop taking messages; return once no message is being processed."""

    def resume(self) -> None:
        """Take messages again."""

    def join(self) -> None:
        """Wait until the worker holds no work."""


class Worker:
    """Consume messages from a broker's queues on ``worker_threads`` threads.

    On the stub broker messages are consumed from memory; on the Redis broker a Celery
    worker (thread pool, in this process) consumes the queues. ``start`` does not block.

    Attributes:
        queue_prefetch: Messages a consumer holds ahead of the threads (stub broker; a Celery
            worker holds one per thread, as ``worker_prefetch_multiplier = 1`` says).
        delay_prefetch: Delayed messages a consumer holds (stub broker).
        consumer_whitelist: The queues to consume, or None for every declared queue.
        replaceable: True in a child of a prefork pool, which the pool replaces if it exits
            (``python -m shim --pool prefork``); False in a process nothing would replace.

    Args:
        broker: The broker.
        queues: The queues to consume; every declared queue by default.
        worker_timeout: How long (ms) idle threads wait before checking for shutdown.
        worker_threads: The number of worker threads.
    """

    def __init__(
        self,
        broker: Broker,
        *,
        queues: set[str] | None = None,
        worker_timeout: int = WORKER_TIMEOUT,
        worker_threads: int = 8,
    ) -> None:
        if worker_threads < 1:
            raise ValueError(f"worker_threads must be at least 1, got {worker_threads!r}")
        self.logger = logging.getLogger(__name__)
        self.broker = broker
        self.consumer_whitelist = set(queues) if queues else None
        self.queue_prefetch = QUEUE_PREFETCH or min(worker_threads * 2, 65535)
        self.delay_prefetch = DELAY_QUEUE_PREFETCH or min(worker_threads * 1000, 65535)
        self.worker_timeout = worker_timeout
        self.worker_threads = worker_threads
        self.replaceable = False
        self._engine: WorkerEngine | None = None

    def start(self) -> None:
        """Boot the middleware and start consuming."""
        self.broker.emit_before("worker_boot", self)
        self._engine = self.broker.worker_engine(self)
        self._engine.start()
        self.broker.emit_after("worker_boot", self)

    def stop(self, timeout: int = 600_000) -> None:
        """Stop consuming and wait (up to ``timeout`` ms) for running messages to finish."""
        self.broker.emit_before("worker_shutdown", self)
        if self._engine is not None:
            self._engine.stop(timeout)
        self.broker.emit_after("worker_shutdown", self)
        self._engine = None

    def join(self) -> None:
        """Wait until this worker holds no messages (useful in tests)."""
        if self._engine is not None:
            self._engine.join()

    def pause(self) -> None:
        """Stop taking messages; returns once the messages being processed are done.

        Messages already taken stay with the worker and run after :meth:`resume`.
        """
        if self._engine is not None:
            self._engine.pause()

    def resume(self) -> None:
        """Take messages again after :meth:`pause`."""
        if self._engine is not None:
            self._engine.resume()
