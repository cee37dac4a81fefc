"""The module a worker process loads (``python -m shim actors.jobs.worker_main``).

Importing it reads the configuration once, installs the Redis broker, declares one actor per
job kind (``TrainingActor`` is Celery task ``train_model``; see ``actors.jobs.kinds``), hooks the
worker's background duties (liveness key, reaper) to the Celery worker's start and shutdown,
and turns a Celery revoke of a job's task into a cancel of its job. Its ``app`` is the Celery app, so Celery's own tools
work with the same configuration: ``celery -A actors.jobs.worker_main inspect active``.
"""

from __future__ import annotations

import os
from typing import Any

from celery import signals

from actors.jobs.revoking import revoke_handler
from actors.jobs.worker_app import ProcessContext, WorkerDuties, configure_broker, run_gated
from shim.brokers.redis_transport import consumer_is_consuming
from shim.brokers.revoke import on_revoke
from store.settings import load_settings

settings = load_settings()
broker = configure_broker(settings)
app = broker.app
# Only now (configure_broker declared every kind's actor on the global broker).
from actors.jobs.job_actor import use_context  # noqa: E402
from actors.jobs.kinds import actor_names  # noqa: E402

for _actor_name in actor_names():
    on_revoke(_actor_name, revoke_handler(settings, run_gated))

_process_context = ProcessContext(settings)
use_context(_process_context.get)
_duties = WorkerDuties(settings)


def describe_worker(consumer: Any) -> dict[str, Any]:
    """What ``GET /workers`` shows of this worker besides liveness: pool, size, job pids."""
    info: dict[str, Any] = dict(consumer.pool.info or {})
    processes = [int(pid) for pid in info.get("processes") or []] or [os.getpid()]
    return {
        "node": str(consumer.hostname),
        "pool": type(consumer.pool).__module__.rsplit(".", 1)[-1],
        "concurrency": int(info.get("max-concurrency") or settings.worker.concurrency),
        "processes": processes,
        "queues": sorted(queue.name for queue in consumer.task_consumer.queues),
    }


def _start_duties(sender: Any = None, **_: Any) -> None:
    # ``worker_ready`` is sent by the Celery consumer whose health /ready must reflect.
    if sender is None:
        _duties.start()
        return
    _duties.start(can_consume=lambda: consumer_is_consuming(sender), describe=lambda: describe_worker(sender))


def _stop_duties(**_: Any) -> None:
    _duties.stop()


signals.worker_ready.connect(_start_duties, weak=False)
signals.worker_shutdown.connect(_stop_duties, weak=False)
