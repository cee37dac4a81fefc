"""Sending a job's message to its kind's actor: what ``JobContext.sender`` does, built once per process.

The web process builds its sender where it builds the app (``mlw serve``), a worker where it
builds its job contexts; both send on the broker they were given.
"""

from __future__ import annotations

import asyncio
from typing import Any

import shim
from actors.jobs.context import Sender
from actors.jobs.kinds import ROUTES, route_for
from store.kinds import JobKind
from store.settings import JobsSettings, backstop_s


def make_sender(broker: shim.Broker, jobs: JobsSettings) -> Sender:
    """A sender enqueuing a job's message for its kind's actor on ``broker``, with its backstop time limit.

    The message is built from the actor's name, so sending needs the broker only: the Redis
    broker sends it as the Celery task of that name once the actor is declared on it
    (:func:`actors.jobs.broker.build_broker`).
    """
    for queue in sorted({route.queue_name for route in ROUTES.values()}):
        broker.declare_queue(queue)

    async def send(job_id: str, max_runtime_s: float | None = None, kind: str = JobKind.TRAINING.value) -> str:
        route = route_for(kind)
        limit_s = backstop_s(max_runtime_s or jobs.default_max_runtime_s, jobs.cancel_grace_s)
        message: shim.Message[Any] = shim.Message(
            queue_name=route.queue_name, actor_name=route.actor_name, args=(job_id,), kwargs={},
            options={"time_limit": int(limit_s * 1000)},
        )
        sent = await asyncio.to_thread(broker.enqueue, message)
        return str(sent.message_id)

    return send
