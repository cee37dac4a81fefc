"""The ``alias.changed`` event built from a history row: set, move, remove; UTC times."""

from __future__ import annotations

import datetime as dt

import pytest

from store.alias_events import ALIAS_CHANGED, alias_event, change_action
from store.models import ModelAliasHistory


def _entry(previous: int | None, version: int | None, at: dt.datetime) -> ModelAliasHistory:
    return ModelAliasHistory(
        pipeline_id="p", node_id="n", alias="champion", version=version, previous_version=previous,
        changed_at=at, changed_by="alice",
    )


@pytest.mark.parametrize(("previous", "version", "action"), [(None, 2, "set"), (2, 3, "move"), (3, None, "remove")])
def test_a_history_row_reads_as_set_move_or_remove(previous: int | None, version: int | None, action: str) -> None:
    entry = _entry(previous, version, dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    assert change_action(entry) == action
    assert alias_event(entry) == {
        "type": ALIAS_CHANGED, "pipeline_id": "p", "node_id": "n", "alias": "champion", "action": action,
        "from_version": previous, "to_version": version, "changed_by": "alice", "at": "2026-01-02T03:04:05+00:00",
    }


def test_a_time_read_back_without_a_zone_is_taken_as_utc() -> None:
    aware = dt.datetime(2026, 1, 2, 4, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert alias_event(_entry(None, 1, aware))["at"] == "2026-01-02T03:04:05+00:00"
    assert alias_event(_entry(None, 1, dt.datetime(2026, 1, 2, 3, 4, 5)))["at"] == "2026-01-02T03:04:05+00:00"
