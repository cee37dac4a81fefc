"""Pure policy for training jobs: runtime limits, deadlines, lost workers and messages, throttling.

Nothing here touches a broker, a database or a clock of its own: callers pass the
values in, so every rule is tested on its own.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from actors.errors import InvalidNodeConfig
from store.states import JobStatus


def resolve_max_runtime(requested: Any, default_s: float, limit_s: float) -> float:
    """The runtime limit of a job in seconds: the job's ``max_runtime_s``, else the default.

    Blank values (``None``, ``""``) fall back to ``default_s``.

    Raises:
        InvalidNodeConfig: the value is not a finite positive number, or exceeds ``limit_s``.
    """
    field = "config.max_runtime_s"
    if requested is None or (isinstance(requested, str) and not requested.strip()):
        return default_s
    if isinstance(requested, bool) or not isinstance(requested, int | float):
        raise InvalidNodeConfig("max_runtime_s must be a number of seconds", field=field)
    value = float(requested)
    if not math.isfinite(value) or value <= 0:
        raise InvalidNodeConfig("max_runtime_s must be a positive, finite number of seconds", field=field)
    if value > limit_s:
        raise InvalidNodeConfig(f"max_runtime_s must be <= {limit_s:g} seconds, got {value:g}", field=field,
                                details={"maximum": limit_s})
    return value


def deadline_of(started_monotonic: float, max_runtime_s: float) -> float:
    """The monotonic instant after which a running job has timed out."""
    return started_monotonic + max_runtime_s


class StopReason(enum.StrEnum):
    """Why a running fit must stop at its next checkpoint."""

    CANCELLED = "cancelled"
    TIMEOUT = "timeout"


def stop_reason(*, cancel_requested: bool, now_monotonic: float, deadline: float) -> StopReason | None:
    """What a checkpoint should do: go on (``None``) or stop, cancellation first."""
    if cancel_requested:
        return StopReason.CANCELLED
    if now_monotonic >= deadline:
        return StopReason.TIMEOUT
    return None


class ReapAction(enum.StrEnum):
    """What the reaper does with a job whose worker stopped heartbeating."""

    REQUEUE = "requeue"
    FAIL = "fail"
    CANCEL = "cancel"
    LEAVE = "leave"


def is_stale(heartbeat_at: datetime | None, started_at: datetime | None, now: datetime, stale_after_s: float) -> bool:
    """Whether an active job's worker is presumed lost (no heartbeat for ``stale_after_s``)."""
    last = heartbeat_at or started_at
    if last is None:
        return False
    return now - last > timedelta(seconds=stale_after_s)


def reap_action(status: JobStatus, attempt: int, max_attempts: int) -> ReapAction:
    """The reaper's decision for a stale job.

    Running jobs are retried while ``attempt < max_attempts``, else they fail with
    ``worker_lost``; a job that was being cancelled simply becomes cancelled.
    """
    if status is JobStatus.CANCELLING:
        return ReapAction.CANCEL
    if status is JobStatus.RUNNING:
        return ReapAction.REQUEUE if attempt < max_attempts else ReapAction.FAIL
    return ReapAction.LEAVE


def resend_due(status: JobStatus, updated_at: datetime, now: datetime, resend_after_s: float) -> bool:
    """Whether a job's message should be sent again because the job has sat queued too long.

    Only a ``queued`` job whose row has not changed for more than ``resend_after_s`` is due:
    its message may be lost (a claim that failed, a broker that lost its data). The sender
    touches ``updated_at`` after a re-send, so a job is re-sent at most once per period.
    """
    return status is JobStatus.QUEUED and now - updated_at > timedelta(seconds=resend_after_s)


class RedeliveryAction(enum.StrEnum):
    """What a worker does with a message for a job, by the job's current state."""

    CLAIM = "claim"
    DROP_RUNNING_ELSEWHERE = "drop_running_elsewhere"
    IGNORE_TERMINAL = "ignore_terminal"
    RECOVER_STALE = "recover_stale"


def redelivery_action(status: JobStatus, *, stale: bool) -> RedeliveryAction:
    """Decide what to do with a (possibly redelivered) message for a job."""
    if status is JobStatus.QUEUED:
        return RedeliveryAction.CLAIM
    if status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
        return RedeliveryAction.IGNORE_TERMINAL
    return RedeliveryAction.RECOVER_STALE if stale else RedeliveryAction.DROP_RUNNING_ELSEWHERE


@dataclass
class Throttle:
    """Lets an event through at most once every ``interval`` seconds (the first always passes)."""

    interval: float
    _last: float = -math.inf

    def ready(self, now: float) -> bool:
        """Whether an event at ``now`` may pass; records it when it may."""
        if now - self._last >= self.interval:
            self._last = now
            return True
        return False
