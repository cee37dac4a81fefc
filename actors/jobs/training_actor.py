"""``TrainingActor``: the per-job actor of training jobs (Celery task ``train_model``).

Declared on the global broker when this module is imported, as Dramatiq actors are;
``actors.jobs.worker_app`` sets the broker first. Everything but its name lives in the base,
:class:`actors.jobs.job_actor.JobActor`; the work is :class:`actors.jobs.training_runner.TrainingRunner`.
"""

from __future__ import annotations

from actors.jobs.job_actor import JobActor, make_sender, message_time_limit_ms, use_context
from actors.jobs.kinds import ROUTES
from store.kinds import JobKind

TRAINING_ACTOR = ROUTES[JobKind.TRAINING].actor_name
"""The actor's name, which is also its Celery task's name (``inspect active``, Flower)."""
TRAINING_QUEUE = ROUTES[JobKind.TRAINING].queue_name


class TrainingActor(JobActor):
    """Runs one training job: claim, fit, evaluate, store; always ends terminal."""

    kind = JobKind.TRAINING

    class Meta:
        actor_name = TRAINING_ACTOR
        queue_name = TRAINING_QUEUE
        max_retries = 0


__all__ = ["TRAINING_ACTOR", "TRAINING_QUEUE", "TrainingActor", "make_sender", "message_time_limit_ms", "use_context"]
