"""``JobActor``: the base of the per-job actor classes, one per job kind.

A job actor is a plain callable declared on a broker given to it (:meth:`JobActor.declare`,
called for every class of :data:`actors.jobs.broker.JOB_ACTORS`), never on a global broker
at import. It is declared with the shim's ``context=True`` option: the broker's
:class:`~shim.middleware.WorkerContext` middleware hands it the worker process's
:class:`~actors.jobs.context.JobContext` as its first argument, while the message carries only
the job id (arq's ``ctx``). A concrete subclass names its kind; its actor name (= Celery task
name) and queue come from :data:`actors.jobs.kinds.ROUTES`, its work from the kind's runner.
"""

from __future__ import annotations

from typing import Any, ClassVar

import shim
from actors.jobs.context import JobContext
from actors.jobs.dispatch import dispatch_quietly
from actors.jobs.kinds import ROUTES, runner_for
from actors.jobs.runner import HELD_NO_SLOT
from store.kinds import JobKind


class JobActor:
    """Runs one job of :attr:`kind`: claim, work, record; always ends terminal."""

    kind: ClassVar[JobKind]

    async def __call__(self, ctx: JobContext, job_id: str) -> str:
        outcome = await runner_for(self.kind).handle(ctx, job_id)
        if outcome not in HELD_NO_SLOT:
            # This job ended (or was sent back to wait): a slot of its user may be free now.
            await dispatch_quietly(ctx)
        return outcome.value

    @classmethod
    def declare(cls, broker: shim.Broker) -> shim.Actor[Any, Any]:
        """Declare this kind's actor on ``broker`` (which needs the ``WorkerContext`` middleware)."""
        route = ROUTES[cls.kind]
        # Work failures are final and lost workers are retried by the reaper, which counts
        # attempts on the job row; a broker-level retry would bypass both.
        declare = shim.actor(
            broker=broker, actor_name=route.actor_name, queue_name=route.queue_name, max_retries=0, context=True
        )
        return declare(cls())
