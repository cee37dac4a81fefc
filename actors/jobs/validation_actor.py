"""``ValidationActor``: the per-job actor of validation jobs (Celery task ``validate_model``).

Declared on the global broker when this module is imported (``actors.jobs.worker_app``
sets the broker first). Everything but its name lives in the base,
:class:`actors.jobs.job_actor.JobActor`; the work is
:class:`actors.jobs.validation_runner.ValidationRunner`.
"""

from __future__ import annotations

from actors.jobs.job_actor import JobActor
from actors.jobs.kinds import ROUTES
from store.kinds import JobKind

VALIDATION_ACTOR = ROUTES[JobKind.VALIDATION].actor_name
"""The actor's name, which is also its Celery task's name."""
VALIDATION_QUEUE = ROUTES[JobKind.VALIDATION].queue_name


class ValidationActor(JobActor):
    """Runs one validation job: claim, evaluate the versions, store the report; always ends terminal."""

    kind = JobKind.VALIDATION

    class Meta:
        actor_name = VALIDATION_ACTOR
        queue_name = VALIDATION_QUEUE
        max_retries = 0
