"""The kinds of job the jobs table holds: one actor class each, one state machine for all.

A kind names the work; ``actors.kinds`` maps it to its actor (the Celery task) and its
runner. The store only checks that a job's kind is one it knows.
"""

from __future__ import annotations

import enum

from store.errors import InvalidInput


class JobKind(enum.StrEnum):
    """What a job does; every kind shares the statuses, events, quotas and turns of ``training_jobs``."""

    TRAINING = "training"
    VALIDATION = "validation"
    PREDICTIONS = "predictions"
    """Batch predictions of one model version over an uploaded dataset (``actors.jobs.predictions_runner``)."""


def parse_kind(value: str | JobKind) -> JobKind:
    """``value`` as a :class:`JobKind`.

    Raises:
        InvalidInput: ``value`` is not a known kind (names the field ``kind``).
    """
    try:
        return JobKind(value)
    except ValueError:
        known = ", ".join(k.value for k in JobKind)
        raise InvalidInput("kind", f"unknown job kind {value!r} (known: {known})") from None
