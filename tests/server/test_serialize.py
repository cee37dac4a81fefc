"""Row -> JSON conversion shared by the REST views and the websocket hub."""

from __future__ import annotations

import datetime as dt

from server.schemas.jobs import JobOut
from server.serialize import iso, job_json
from store.models import TrainingJob


def test_timestamps_are_iso_8601_in_utc_and_naive_ones_are_taken_as_utc() -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert iso(dt.datetime(2024, 5, 1, 14, 0, tzinfo=plus_two)) == "2024-05-01T12:00:00+00:00"
    assert iso(dt.datetime(2024, 5, 1, 12, 0)) == "2024-05-01T12:00:00+00:00"
    assert iso(None) is None


def test_a_fresh_job_row_matches_the_response_schema_and_has_no_hand_off_yet() -> None:
    job = TrainingJob(
        id="j1",
        pipeline_id="d_abc",
        node_id="n",
        dataset_source_id="d",
        user_id="u",
        status="queued",
        kind="training",
        model_type="xgboost",
        hyperparameters={"max_depth": 3},
        resolved_hyperparameters={"max_depth": 3},
        config={},
        warnings=[],
        attempt=1,
        last_seq=1,
        created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )
    body = job_json(job)
    JobOut.model_validate(body)
    assert body["output"] is None
    assert body["cancel_requested"] is False
    job.cancel_requested_at = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    job.model_version, job.model_artifact_uri = 2, "uploads/models/d_abc/j1.joblib"
    body = job_json(job)
    assert body["cancel_requested"] is True
    assert body["output"] == {
        "job_id": "j1",
        "model_version": 2,
        "model_artifact_uri": "uploads/models/d_abc/j1.joblib",
    }
