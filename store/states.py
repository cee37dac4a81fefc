"""The training-job state machine, as data.

The store enforces it on every write (``store.jobs.transition``), so it lives here, and
the actors import it from here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from store.errors import IllegalTransition


class JobStatus(enum.StrEnum):
    """Where a training job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL: frozenset[JobStatus] = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
"""Frozen states: nothing moves a job out of them."""

ACTIVE: frozenset[JobStatus] = frozenset({JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CANCELLING})
"""States in which a job still holds its node and counts against quotas."""

TRANSITIONS: Mapping[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset(
        {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLING, JobStatus.QUEUED}
    ),
    JobStatus.CANCELLING: frozenset({JobStatus.CANCELLED, JobStatus.SUCCEEDED, JobStatus.FAILED}),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}
"""Allowed moves. ``queued -> failed`` exists for a message that could not be sent
(error_code ``broker_unavailable``); ``running -> queued`` only for retrying a job whose
worker was lost."""


def parse_status(value: str | JobStatus) -> JobStatus:
    """Return the ``JobStatus`` named by ``value``.

    Raises:
        IllegalTransition: ``value`` names no status.
    """
    try:
        return JobStatus(value)
    except ValueError:
        raise IllegalTransition(f"unknown job status {value!r}") from None


def can_transition(current: str | JobStatus, target: str | JobStatus) -> bool:
    """Whether the state machine allows ``current -> target``."""
    try:
        return JobStatus(target) in TRANSITIONS[JobStatus(current)]
    except ValueError:
        return False


def check_transition(current: str | JobStatus, target: str | JobStatus) -> tuple[JobStatus, JobStatus]:
    """Validate ``current -> target`` and return both as ``JobStatus``.

    Raises:
        IllegalTransition: the move is not in ``TRANSITIONS`` (this includes every move out
            of a terminal state and staying in the same state).
    """
    src, dst = parse_status(current), parse_status(target)
    if dst not in TRANSITIONS[src]:
        if src in TERMINAL:
            raise IllegalTransition(f"job is {src.value}, a terminal state; it cannot become {dst.value}")
        raise IllegalTransition(f"a job cannot go from {src.value} to {dst.value}")
    return src, dst
