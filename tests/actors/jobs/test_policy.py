from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from actors.errors import InvalidNodeConfig
from actors.jobs.policy import (
    ReapAction,
    RedeliveryAction,
    StopReason,
    Throttle,
    deadline_of,
    is_stale,
    reap_action,
    redelivery_action,
    resend_due,
    resolve_max_runtime,
    stop_reason,
)
from store.states import JobStatus

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_blank_max_runtime_falls_back_to_the_default(blank: object) -> None:
    assert resolve_max_runtime(blank, 3600.0, 86400.0) == 3600.0


def test_a_given_max_runtime_wins_over_the_default() -> None:
    assert resolve_max_runtime(90, 3600.0, 86400.0) == 90.0
    assert resolve_max_runtime(0.5, 3600.0, 86400.0) == 0.5


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "60", True, [60], {"s": 1}, 86401])
def test_a_bad_max_runtime_is_refused_naming_the_field(bad: object) -> None:
    with pytest.raises(InvalidNodeConfig) as info:
        resolve_max_runtime(bad, 3600.0, 86400.0)
    assert info.value.field == "config.max_runtime_s"


def test_a_checkpoint_goes_on_before_the_deadline_and_stops_after_it() -> None:
    deadline = deadline_of(100.0, 10.0)
    assert stop_reason(cancel_requested=False, now_monotonic=109.9, deadline=deadline) is None
    assert stop_reason(cancel_requested=False, now_monotonic=110.0, deadline=deadline) is StopReason.TIMEOUT


def test_cancellation_takes_precedence_over_a_passed_deadline() -> None:
    assert stop_reason(cancel_requested=True, now_monotonic=500.0, deadline=110.0) is StopReason.CANCELLED


def test_a_job_is_stale_only_after_stale_after_s_without_a_heartbeat() -> None:
    assert not is_stale(NOW - timedelta(seconds=29), None, NOW, 30.0)
    assert is_stale(NOW - timedelta(seconds=31), None, NOW, 30.0)
    assert is_stale(None, NOW - timedelta(seconds=31), NOW, 30.0)
    assert not is_stale(None, None, NOW, 30.0)


def test_a_lost_running_job_is_retried_while_attempts_remain_then_fails() -> None:
    assert reap_action(JobStatus.RUNNING, 1, 3) is ReapAction.REQUEUE
    assert reap_action(JobStatus.RUNNING, 2, 3) is ReapAction.REQUEUE
    assert reap_action(JobStatus.RUNNING, 3, 3) is ReapAction.FAIL


def test_a_lost_cancelling_job_becomes_cancelled_and_others_are_left() -> None:
    assert reap_action(JobStatus.CANCELLING, 1, 3) is ReapAction.CANCEL
    for status in (JobStatus.QUEUED, JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
        assert reap_action(status, 1, 3) is ReapAction.LEAVE


def test_a_redelivered_message_is_claimed_dropped_or_ignored_by_job_state() -> None:
    assert redelivery_action(JobStatus.QUEUED, stale=False) is RedeliveryAction.CLAIM
    assert redelivery_action(JobStatus.RUNNING, stale=False) is RedeliveryAction.DROP_RUNNING_ELSEWHERE
    assert redelivery_action(JobStatus.CANCELLING, stale=False) is RedeliveryAction.DROP_RUNNING_ELSEWHERE
    assert redelivery_action(JobStatus.RUNNING, stale=True) is RedeliveryAction.RECOVER_STALE
    for status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
        assert redelivery_action(status, stale=False) is RedeliveryAction.IGNORE_TERMINAL


def test_the_throttle_lets_the_first_event_through_then_one_per_interval() -> None:
    throttle = Throttle(0.25)
    assert throttle.ready(10.0)
    assert not throttle.ready(10.1)
    assert not throttle.ready(10.24)
    assert throttle.ready(10.25)
    assert Throttle(0.0).ready(1.0)


def test_a_queued_job_is_due_for_a_resend_only_after_the_period_without_a_change() -> None:
    assert not resend_due(JobStatus.QUEUED, NOW - timedelta(seconds=299), NOW, 300.0)
    assert not resend_due(JobStatus.QUEUED, NOW - timedelta(seconds=300), NOW, 300.0)
    assert resend_due(JobStatus.QUEUED, NOW - timedelta(seconds=301), NOW, 300.0)


@pytest.mark.parametrize("status", [s for s in JobStatus if s is not JobStatus.QUEUED])
def test_a_job_that_is_not_queued_is_never_resent(status: JobStatus) -> None:
    # Running and cancelling jobs are the stale-heartbeat rule's; terminal ones are frozen.
    assert not resend_due(status, NOW - timedelta(days=30), NOW, 300.0)
