"""Fair share as pure policy: round robin over users, FIFO within a user, the cap (no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from store.turns import Waiting, has_room, next_turns, user_order

T0 = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def _waiting(*pairs: str) -> list[Waiting]:
    """``"a1"`` is job ``a1`` of user ``a``."""
    return [Waiting(job_id=pair, user_id=pair[0]) for pair in pairs]


def test_no_limit_admits_every_waiting_job_taking_turns_between_users() -> None:
    waiting = _waiting("a1", "a2", "a3", "b1", "c1", "c2")
    assert next_turns(waiting, {}, {}, cap=0) == ["a1", "b1", "c1", "a2", "c2", "a3"]


def test_a_user_at_the_cap_waits_while_others_are_admitted() -> None:
    waiting = _waiting("a2", "a3", "b1")
    assert next_turns(waiting, {"a": 1}, {"a": T0}, cap=1) == ["b1"]


def test_each_user_gets_at_most_the_cap_minus_what_it_holds() -> None:
    waiting = _waiting("a1", "a2", "a3", "b1", "b2", "b3")
    assert next_turns(waiting, {"a": 1}, {}, cap=2) == ["a1", "b1", "b2"]


def test_the_user_served_least_recently_goes_first_and_never_served_before_anyone() -> None:
    waiting = _waiting("a1", "b1", "c1")
    served = {"a": T0 + dt.timedelta(minutes=2), "b": T0 + dt.timedelta(minutes=1), "c": None}
    assert next_turns(waiting, {}, served, cap=1) == ["c1", "b1", "a1"]
    assert user_order(waiting, served) == ["c", "b", "a"]


def test_within_a_user_jobs_keep_their_order_of_arrival() -> None:
    waiting = _waiting("b1", "a1", "b2", "a2", "b3")
    assert next_turns(waiting, {}, {}, cap=0) == ["b1", "a1", "b2", "a2", "b3"]


def test_a_limit_stops_after_that_many_turns() -> None:
    waiting = _waiting("a1", "a2", "b1", "b2")
    assert next_turns(waiting, {}, {}, cap=0, limit=3) == ["a1", "b1", "a2"]
    assert next_turns(waiting, {}, {}, cap=0, limit=0) == []


def test_nothing_waits_nothing_is_admitted() -> None:
    assert next_turns([], {"a": 3}, {}, cap=1) == []


def test_a_user_holding_more_than_the_cap_gets_nothing() -> None:
    # The cap was lowered while jobs ran: they finish, nobody is stopped, nothing more starts.
    assert next_turns(_waiting("a1"), {"a": 3}, {}, cap=1) == []


def test_has_room_under_the_cap_or_without_one() -> None:
    assert has_room(0, 1) and not has_room(1, 1) and has_room(99, 0)


def test_a_negative_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="cap"):
        next_turns(_waiting("a1"), {}, {}, cap=-1)
