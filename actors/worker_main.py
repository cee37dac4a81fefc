"""The module a training worker process loads (``python -m shim actors.worker_main``).

Importing it reads the configuration once, installs the Redis broker, declares
``TrainingActor`` and hooks the worker's background duties (liveness key, reaper) to the
Celery worker's start and shutdown.
"""

from __future__ import annotations

from typing import Any

from celery import signals

from actors.worker_app import ProcessContext, WorkerDuties, configure_broker
from shim.brokers.redis_transport import consumer_is_consuming
from store.settings import load_settings

settings = load_settings()
broker = configure_broker(settings)
# Only now: importing actors.training declares TrainingActor on the global broker.
from actors.training import use_context  # noqa: E402

_process_context = ProcessContext(settings)
use_context(_process_context.get)
_duties = WorkerDuties(settings)


def _start_duties(sender: Any = None, **_: Any) -> None:
    # ``worker_ready`` is sent by the Celery consumer whose health /ready must reflect.
    _duties.start(can_consume=None if sender is None else lambda: consumer_is_consuming(sender))


def _stop_duties(**_: Any) -> None:
    _duties.stop()


signals.worker_ready.connect(_start_duties, weak=False)
signals.worker_shutdown.connect(_stop_duties, weak=False)
