"""Job kinds to their actors: the Celery task that runs each kind and the runner it uses.

Pure data plus lookups, importable without a broker (the web process routes messages with
it; the worker declares one actor class per kind from it). To add a kind: a
``store.kinds.JobKind`` value, a :class:`actors.jobs.runner.JobRunner` subclass, a
:class:`actors.jobs.job_actor.JobActor` subclass routed in :data:`ROUTES`, and that class in
:data:`actors.jobs.broker.JOB_ACTORS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.jobs.predictions_runner import PredictionsRunner
from actors.jobs.runner import JobRunner
from actors.jobs.training_runner import TrainingRunner
from actors.jobs.validation_runner import ValidationRunner
from store.kinds import JobKind, parse_kind

JOBS_QUEUE = "training"
"""The one queue of every kind: ``mlw worker`` consumes it, so a new kind needs no new worker option."""


@dataclass(frozen=True)
class KindRoute:
    """Where the messages of one kind go: the actor's (so the Celery task's) name and queue."""

    kind: JobKind
    actor_name: str
    queue_name: str = JOBS_QUEUE


ROUTES: dict[JobKind, KindRoute] = {
    JobKind.TRAINING: KindRoute(JobKind.TRAINING, "train_model"),
    JobKind.VALIDATION: KindRoute(JobKind.VALIDATION, "validate_model"),
    JobKind.PREDICTIONS: KindRoute(JobKind.PREDICTIONS, "predict_batch"),
}

_RUNNERS: dict[JobKind, JobRunner[Any, Any]] = {
    JobKind.TRAINING: TrainingRunner(),
    JobKind.VALIDATION: ValidationRunner(),
    JobKind.PREDICTIONS: PredictionsRunner(),
}


def route_for(kind: str | JobKind) -> KindRoute:
    """The route of a kind.

    Raises:
        InvalidInput: an unknown kind.
    """
    return ROUTES[parse_kind(kind)]


def runner_for(kind: str | JobKind) -> JobRunner[Any, Any]:
    """The runner of a kind (one instance per process; runners keep no per-job state).

    Raises:
        InvalidInput: an unknown kind.
    """
    return _RUNNERS[parse_kind(kind)]


def actor_names() -> list[str]:
    """Every kind's actor name (a Celery task name), e.g. for revoke handlers."""
    return [route.actor_name for route in ROUTES.values()]
