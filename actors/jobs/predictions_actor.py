"""``PredictionsActor``: the per-job actor of batch-prediction jobs (Celery task ``predict_batch``).

Everything but its kind lives in :class:`actors.jobs.job_actor.JobActor`; the work is
:class:`actors.jobs.predictions_runner.PredictionsRunner`.
"""

from __future__ import annotations

from actors.jobs.job_actor import JobActor
from actors.jobs.kinds import ROUTES
from store.kinds import JobKind

PREDICTIONS_ACTOR = ROUTES[JobKind.PREDICTIONS].actor_name
PREDICTIONS_QUEUE = ROUTES[JobKind.PREDICTIONS].queue_name


class PredictionsActor(JobActor):
    """Runs one predictions job: claim, predict chunk by chunk, store the output; always ends terminal."""

    kind = JobKind.PREDICTIONS


__all__ = ["PREDICTIONS_ACTOR", "PREDICTIONS_QUEUE", "PredictionsActor"]
