"""``JobActor``: the base of the per-job actor classes, one per job kind.

A concrete subclass names its kind and its ``Meta`` (actor name = Celery task name,
queue); everything else is shared here and in :class:`actors.jobs.runner.JobRunner`: the
process's job context, the runner of the kind, the dispatch of waiting jobs after a job
ends, and the sender that routes a job's message to its kind's actor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import shim
from actors.jobs.context import JobContext, Sender
from actors.jobs.dispatch import dispatch_quietly
from actors.jobs.kinds import ROUTES, route_for, runner_for
from actors.jobs.runner import HELD_NO_SLOT
from store.kinds import JobKind
from store.settings import backstop_s

_context_provider: Callable[[], Awaitable[JobContext]] | None = None


def use_context(provider: Callable[[], Awaitable[JobContext]]) -> None:
    """Tell the actors how this process builds its job context (once per process)."""
    global _context_provider
    _context_provider = provider


class JobActor(shim.GenericActor):
    """Runs one job of :attr:`kind`: claim, work, record; always ends terminal.

    Subclasses declare ``kind`` and a ``Meta`` with ``actor_name``, ``queue_name`` and
    ``max_retries = 0``: work failures are final and lost workers are retried by the
    reaper, which counts attempts on the job row; a broker-level retry would bypass both.
    """

    class Meta:
        abstract = True

    kind: ClassVar[JobKind]

    async def perform(self, job_id: str) -> str:
        if _context_provider is None:
            name = type(self).__name__
            raise RuntimeError(f"{name} has no job context: call actors.jobs.job_actor.use_context() first")
        ctx = await _context_provider()
        outcome = await runner_for(self.kind).handle(ctx, job_id)
        if outcome not in HELD_NO_SLOT:
            # This job ended (or was sent back to wait): a slot of its user may be free now.
            await dispatch_quietly(ctx)
        return outcome.value


def message_time_limit_ms(max_runtime_s: float, cancel_grace_s: float) -> int:
    """The broker-level time limit of a job's message: a backstop behind the checkpoints."""
    return int(backstop_s(max_runtime_s, cancel_grace_s) * 1000)


def make_sender(broker: shim.Broker, cancel_grace_s: float, default_max_runtime_s: float) -> Sender:
    """A sender for ``JobContext.sender``: enqueues the message of a job for its kind's actor on ``broker``.

    The message is built here rather than through ``Actor.send`` so that sending depends
    only on the broker given, not on which broker was global at import time.
    """
    for queue in sorted({route.queue_name for route in ROUTES.values()}):
        broker.declare_queue(queue)

    async def send(job_id: str, max_runtime_s: float | None = None, kind: str = JobKind.TRAINING.value) -> str:
        route = route_for(kind)
        limit = message_time_limit_ms(max_runtime_s or default_max_runtime_s, cancel_grace_s)
        message: shim.Message[Any] = shim.Message(
            queue_name=route.queue_name, actor_name=route.actor_name, args=(job_id,), kwargs={},
            options={"time_limit": limit},
        )
        sent = await asyncio.to_thread(broker.enqueue, message)
        return str(sent.message_id)

    return send
