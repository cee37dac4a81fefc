"""``TrainingActor``: the per-job actor of training jobs on the ``training`` queue.

The work itself is ``actors.jobs.runner.run_job``, with the worker's
:class:`~actors.jobs.context.JobContext` handed in by the shim (see :mod:`actors.jobs.job_actor`).
"""

from __future__ import annotations

from actors.jobs.context import JobContext
from actors.jobs.job_actor import JobActor
from actors.jobs.runner import Outcome, run_job

TRAINING_QUEUE = "training"
TRAINING_ACTOR = "train_model"
"""The actor's name, which is also its Celery task's name (``inspect active``, Flower)."""


class TrainingActor(JobActor):
    """Runs one training job: claim, fit, evaluate, store; always ends terminal."""

    actor_name = TRAINING_ACTOR
    queue_name = TRAINING_QUEUE

    async def run(self, ctx: JobContext, job_id: str) -> Outcome:
        return await run_job(ctx, job_id)
