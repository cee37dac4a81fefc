"""Sending a job's message: what ``JobContext.sender`` does, built once per process.

The web process builds its sender where it builds the app (``mlw serve``), a worker where it
builds its broker; both send on the broker they were given.
"""

from __future__ import annotations

import asyncio
from typing import Any

import shim
from actors.jobs.context import Sender
from actors.jobs.training_actor import TRAINING_ACTOR, TRAINING_QUEUE
from store.settings import JobsSettings, message_time_limit_s


def make_sender(broker: shim.Broker, jobs: JobsSettings) -> Sender:
    """A sender enqueuing a ``TrainingActor`` message on ``broker``, with its backstop time limit.

    The message is built from the actor's name, so sending needs the broker only: the Redis
    broker routes it to the Celery task of that name once the actor is declared on it
    (:func:`actors.jobs.broker.build_broker`).
    """
    broker.declare_queue(TRAINING_QUEUE)

    async def send(job_id: str, max_runtime_s: float | None = None) -> str:
        limit_s = message_time_limit_s(max_runtime_s or jobs.default_max_runtime_s, jobs.cancel_grace_s)
        message: shim.Message[Any] = shim.Message(
            queue_name=TRAINING_QUEUE, actor_name=TRAINING_ACTOR, args=(job_id,), kwargs={},
            options={"time_limit": int(limit_s * 1000)},
        )
        sent = await asyncio.to_thread(broker.enqueue, message)
        return str(sent.message_id)

    return send
