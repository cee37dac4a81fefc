"""The worker node's own lifecycle: hooks in the main process of a Celery worker.

Middleware hooks (``after_worker_boot``...) run where the actors run: in each child of a
prefork pool. Some duties belong to the node once, in its main process: a liveness record,
housekeeping threads. :func:`on_node_ready` and :func:`on_node_shutdown` register them; the
ready hook gets a :class:`WorkerNode` that reads the node's consumer and pool, so the caller
needs nothing of Celery.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from celery import signals

from .redis_transport import consumer_is_consuming


class WorkerNode:
    """A running Celery worker node, as its main process sees it.

    Args:
        consumer: The Celery consumer (the ``worker_ready`` sender), or None when unknown.
    """

    def __init__(self, consumer: Any = None) -> None:
        self._consumer = consumer

    def consuming(self) -> bool:
        """Whether the node takes messages right now (True when its consumer is unknown)."""
        return self._consumer is None or consumer_is_consuming(self._consumer)

    def describe(self) -> dict[str, Any]:
        """The node's name, pool kind, pool size, the pids that run actors, and its queues.

        ``concurrency`` is None when the pool does not say; empty when the consumer is unknown.
        """
        consumer = self._consumer
        if consumer is None:
            return {}
        info: dict[str, Any] = dict(consumer.pool.info or {})
        processes = [int(pid) for pid in info.get("processes") or []] or [os.getpid()]
        concurrency = info.get("max-concurrency")
        return {
            "node": str(consumer.hostname),
            "pool": type(consumer.pool).__module__.rsplit(".", 1)[-1],
            "concurrency": int(concurrency) if concurrency else None,
            "processes": processes,
            "queues": sorted(queue.name for queue in consumer.task_consumer.queues),
        }


def on_node_ready(callback: Callable[[WorkerNode], None]) -> None:
    """Call ``callback`` in the worker's main process once its consumer is ready."""

    def ready(sender: Any = None, **_: Any) -> None:
        callback(WorkerNode(sender))

    signals.worker_ready.connect(ready, weak=False)


def on_node_shutdown(callback: Callable[[], None]) -> None:
    """Call ``callback`` in the worker's main process when it shuts down."""

    def shutdown(**_: Any) -> None:
        callback()

    signals.worker_shutdown.connect(shutdown, weak=False)
