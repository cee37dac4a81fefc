"""``TrainingActor``: the per-job actor on the ``training`` queue.

Declared on the global broker when this module is imported, as Dramatiq actors are;
``actors.jobs.worker_app`` sets the broker first. The work itself is ``actors.jobs.runner.run_job``,
with the process's :class:`~actors.jobs.context.JobContext`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import shim
from actors.jobs.context import JobContext
from actors.jobs.dispatch import dispatch_quietly
from actors.jobs.runner import Outcome, run_job

TRAINING_QUEUE = "training"
TRAINING_ACTOR = "train_model"
"""The actor's name, which is also its Celery task's name (``inspect active``, Flower)."""

_HELD_NO_SLOT = frozenset({Outcome.MISSING, Outcome.IGNORED_TERMINAL, Outcome.DROPPED_RUNNING_ELSEWHERE})
"""Deliveries that changed nobody's slots: nothing to dispatch after them."""

_context_provider: Callable[[], Awaitable[JobContext]] | None = None


def use_context(provider: Callable[[], Awaitable[JobContext]]) -> None:
    """Tell the actor how this process builds its job context (once per process)."""
    global _context_provider
    _context_provider = provider


class TrainingActor(shim.GenericActor):
    """Runs one training job: claim, fit, evaluate, store; always ends terminal."""

    class Meta:
        actor_name = TRAINING_ACTOR
        queue_name = TRAINING_QUEUE
        # Engine failures are final and lost workers are retried by the reaper, which
        # counts attempts on the job row; a broker-level retry would bypass both.
        max_retries = 0

    async def perform(self, job_id: str) -> str:
        if _context_provider is None:
            raise RuntimeError("TrainingActor has no job context: call actors.jobs.training_actor.use_context() first")
        ctx = await _context_provider()
        outcome = await run_job(ctx, job_id)
        if outcome not in _HELD_NO_SLOT:
            # This job ended (or was sent back to wait): a slot of its user may be free now.
            await dispatch_quietly(ctx)
        return outcome.value


def message_time_limit_ms(max_runtime_s: float, cancel_grace_s: float) -> int:
    """The broker-level time limit of a job's message: a backstop behind the checkpoints."""
    return int((max_runtime_s + 2 * cancel_grace_s + 30) * 1000)


def make_sender(
    broker: shim.Broker, cancel_grace_s: float, default_max_runtime_s: float
) -> Callable[[str, float | None], Awaitable[str]]:
    """A sender for ``JobContext.sender``: enqueues a ``TrainingActor`` message on ``broker``.

    The message is built here rather than through ``TrainingActor.send`` so that sending
    depends only on the broker given, not on which broker was global at import time.
    """
    broker.declare_queue(TRAINING_QUEUE)

    async def send(job_id: str, max_runtime_s: float | None = None) -> str:
        limit = message_time_limit_ms(max_runtime_s or default_max_runtime_s, cancel_grace_s)
        message: shim.Message[Any] = shim.Message(
            queue_name=TRAINING_QUEUE, actor_name=TRAINING_ACTOR, args=(job_id,), kwargs={},
            options={"time_limit": limit},
        )
        sent = await asyncio.to_thread(broker.enqueue, message)
        return str(sent.message_id)

    return send
