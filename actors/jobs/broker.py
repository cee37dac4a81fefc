"""The jobs' broker: Redis, the asyncio loop for the actors, their context, the job actors declared.

Web processes send on it, workers consume from it; both build it the same way, so a
message is sent as the Celery task named after its actor (``train_model``) either way.
"""

from __future__ import annotations

from actors.jobs.job_actor import JobActor
from actors.jobs.predictions_actor import PredictionsActor
from actors.jobs.training_actor import TrainingActor
from actors.jobs.validation_actor import ValidationActor
from actors.jobs.worker_context import ContextFactory
from shim.brokers.redis import RedisBroker
from shim.middleware import AsyncIO, WorkerContext
from store.settings import Settings

JOB_ACTORS: tuple[type[JobActor], ...] = (TrainingActor, ValidationActor, PredictionsActor)
"""Every kind's actor class; each is declared on the jobs' broker."""


def build_broker(settings: Settings) -> RedisBroker:
    """The Redis broker (``redis.url``) with the job actors declared on it.

    Raises:
        RuntimeError: ``redis.url`` is empty.
    """
    if not settings.redis.url:
        raise RuntimeError("redis.url is empty: set MLW_REDIS_URL (mlw serve passes its embedded Redis)")
    broker = RedisBroker(
        url=settings.redis.url, visibility_timeout_s=settings.worker.visibility_timeout_s,
        events=settings.worker.send_events, remote_control=settings.worker.remote_control,
    )
    broker.add_middleware(AsyncIO())
    broker.add_middleware(WorkerContext(ContextFactory(settings, broker).for_worker))
    for actor in JOB_ACTORS:
        actor.declare(broker)
    return broker
