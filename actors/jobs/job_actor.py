"""The base of the job actors: one message per job id, the worker's job context passed in.

A job actor is a plain callable declared on a broker given to it
(:func:`actors.jobs.broker.declare_job_actors`), never on a global broker at import. It is
declared with the shim's ``context=True`` option: the :class:`~shim.middleware.WorkerContext`
middleware of the broker hands it the worker process's :class:`~actors.jobs.context.JobContext`
as its first argument, while the message carries only the job id (arq's ``ctx``).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import shim
from actors.jobs.context import JobContext
from actors.jobs.dispatch import dispatch_quietly
from actors.jobs.runner import Outcome

HELD_NO_SLOT = frozenset({Outcome.MISSING, Outcome.IGNORED_TERMINAL, Outcome.DROPPED_RUNNING_ELSEWHERE})
"""Deliveries that changed nobody's slots: nothing to dispatch after them."""


class JobActor(abc.ABC):
    """Runs one job: claim, work, record; always ends terminal, then dispatches waiting jobs.

    Subclasses set :attr:`actor_name` (also the Celery task's name, which messages in flight
    are routed by: never rename it) and :attr:`queue_name`, and implement :meth:`run`.
    """

    actor_name: ClassVar[str]
    queue_name: ClassVar[str]

    @abc.abstractmethod
    async def run(self, ctx: JobContext, job_id: str) -> Outcome:
        """Handle one delivery of the job's message."""

    async def __call__(self, ctx: JobContext, job_id: str) -> str:
        outcome = await self.run(ctx, job_id)
        if outcome not in HELD_NO_SLOT:
            # This job ended (or was sent back to wait): a slot of its user may be free now.
            await dispatch_quietly(ctx)
        return outcome.value

    @classmethod
    def declare(cls, broker: shim.Broker) -> shim.Actor[Any, Any]:
        """Declare this actor on ``broker`` (which needs the ``WorkerContext`` middleware)."""
        # Job failures are final and lost workers are retried by the reaper, which counts
        # attempts on the job row; a broker-level retry would bypass both.
        declare = shim.actor(
            broker=broker, actor_name=cls.actor_name, queue_name=cls.queue_name, max_retries=0, context=True
        )
        return declare(cls())
