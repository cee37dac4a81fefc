"""Which JSON documents are encoded off the event loop."""

from __future__ import annotations

from server.json_out import has_more_items


def test_a_small_job_document_is_not_large() -> None:
    assert not has_more_items({"id": "j", "warnings": [{"code": "w", "message": "m"}] * 10, "metrics": {"a": 1}})


def test_a_thousand_warnings_are_large_and_counting_stops_early() -> None:
    assert has_more_items({"warnings": [{"code": "w", "message": "m"}] * 1000})
    assert has_more_items([list(range(3))] * 10, budget=20)
    assert not has_more_items([list(range(3))] * 5, budget=20)
