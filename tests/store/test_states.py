from __future__ import annotations

import itertools

import pytest

from store.errors import IllegalTransition
from store.states import ACTIVE, TERMINAL, TRANSITIONS, JobStatus, can_transition, check_transition, parse_status

ALL = list(JobStatus)


def test_every_status_has_a_row_in_the_transitions_table() -> None:
    assert set(TRANSITIONS) == set(JobStatus)


def test_terminal_and_active_partition_the_statuses() -> None:
    assert set(JobStatus) == TERMINAL | ACTIVE
    assert not TERMINAL & ACTIVE
    assert {s.value for s in TERMINAL} == {"succeeded", "failed", "cancelled"}


def test_the_table_is_exactly_the_design_diagram() -> None:
    allowed = {(a.value, b.value) for a, targets in TRANSITIONS.items() for b in targets}
    assert allowed == {
        ("queued", "running"),
        ("queued", "cancelled"),
        ("queued", "failed"),
        ("running", "succeeded"),
        ("running", "failed"),
        ("running", "cancelling"),
        ("running", "queued"),
        ("cancelling", "cancelled"),
        ("cancelling", "succeeded"),
        ("cancelling", "failed"),
    }


@pytest.mark.parametrize(("current", "target"), list(itertools.product(TERMINAL, ALL)))
def test_no_move_leaves_a_terminal_state(current: JobStatus, target: JobStatus) -> None:
    assert not can_transition(current, target)
    with pytest.raises(IllegalTransition, match="terminal"):
        check_transition(current, target)


@pytest.mark.parametrize("status", ALL)
def test_staying_in_the_same_state_is_not_a_transition(status: JobStatus) -> None:
    with pytest.raises(IllegalTransition):
        check_transition(status, status)


def test_a_queued_job_cannot_jump_to_succeeded() -> None:
    with pytest.raises(IllegalTransition, match="from queued to succeeded"):
        check_transition("queued", "succeeded")


def test_check_transition_accepts_strings_and_returns_enums() -> None:
    assert check_transition("running", "cancelling") == (JobStatus.RUNNING, JobStatus.CANCELLING)


def test_an_unknown_status_is_refused_by_name() -> None:
    with pytest.raises(IllegalTransition, match="'paused'"):
        parse_status("paused")
    assert not can_transition("paused", "running")
    assert not can_transition("running", "paused")
