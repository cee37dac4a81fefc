"""The training actor driven directly: a real database, an in-process publisher, no broker."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from actors.errors import ActiveJobConflict, BrokerUnavailable, InvalidGraph, InvalidHyperparameter, QuotaExceeded
from actors.jobs.runner import Outcome
from actors.jobs.service import cancel_training_job
from actors.ml.artifacts import load_model
from store.jobs import create_job, transition
from store.models import TrainingJob
from store.states import JobStatus
from store.types import utcnow
from tests.job_fixtures import JobWorld, graph_for

FAST = {
    "logistic_regression": {},
    "linear_regression": {},
    "random_forest": {"n_estimators": 20},
    "xgboost": {"n_estimators": 20},
    "lightgbm": {"n_estimators": 20},
}
REGRESSION_ONLY = {"linear_regression"}


def _assert_gapless(events: list[dict[str, Any]]) -> None:
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


@pytest.mark.parametrize("model_type", sorted(FAST))
async def test_a_job_of_every_family_succeeds_with_a_version_an_artifact_and_gapless_events(
    job_world: JobWorld, model_type: str
) -> None:
    dataset = "diabetes" if model_type in REGRESSION_ONLY else "breast_cancer"
    job = await job_world.submit(graph_for(model_type, hyperparameters=FAST[model_type]), dataset=dataset)
    assert job.status == "queued"
    assert job_world.sender.sent == [job.id]

    assert await job_world.run(job.id) is Outcome.SUCCEEDED

    done = await job_world.job(job.id)
    assert done.status == "succeeded"
    assert done.model_version == 1
    assert done.error_code is None
    assert done.metrics is not None and set(done.metrics) >= {"train", "test", "rows", "features", "target"}
    assert done.resolved_hyperparameters["n_estimators" if FAST[model_type] else "fit_intercept"] is not None
    assert done.started_at is not None and done.finished_at is not None and done.heartbeat_at is not None
    assert done.model_artifact_uri == f"uploads/models/{done.pipeline_id}/{job.id}.joblib"
    path = job_world.ctx.settings.artifacts_root / done.model_artifact_uri
    model = load_model(job_world.ctx.storage.artifacts, done.model_artifact_uri, done.artifact_sha256 or "")
    assert type(model).__module__ == "sklearn.pipeline"
    card = json.loads(path.with_name(f"{job.id}.card.json").read_text())
    assert card["artifact"] == {"file": path.name, "sha256": done.artifact_sha256, "format": "joblib",
                                "object": "sklearn.pipeline.Pipeline"}
    assert card["features"] == done.metrics["features"] and card["model_type"] == model_type
    assert card["metrics"]["test"] == done.metrics["test"]
    assert {entry["name"] for entry in card["inputs"]} == set(card["features"])

    events = await job_world.events(job.id)
    _assert_gapless(events)
    statuses = [e["status"] for e in events if e["type"] == "job.status"]
    assert statuses == ["queued", "running", "succeeded"]
    version_events = [e for e in events if e["type"] == "job.version"]
    assert version_events[0]["version"] == {
        "job_id": job.id, "model_version": 1, "model_artifact_uri": done.model_artifact_uri
    }
    published = job_world.publisher.of_job(job.id, persisted_only=True)
    assert published == events, "every persisted event is published once, in order, after commit"


async def test_progress_is_published_without_a_seq_and_kept_on_the_row(job_world: JobWorld) -> None:
    job = await job_world.submit(graph_for("xgboost", hyperparameters={"n_estimators": 200}))
    await job_world.run(job.id)
    progress = [e for e in job_world.publisher.of_job(job.id) if e["type"] == "job.progress"]
    assert progress, "a 200-round fit reports progress"
    assert all("seq" not in e and set(e["progress"]) >= {"stage", "completed", "total", "unit"} for e in progress)
    assert (await job_world.job(job.id)).progress is not None


@pytest.mark.parametrize(
    ("graph", "code", "field"),
    [
        (  # by hand: a graph without a split, which graph_for never makes
            {"nodes": [{"id": "src", "type": "dataset_source", "position": {"x": 0, "y": 0},
                        "data": {"label": "s", "config": {}}},
                       {"id": "train", "type": "train_model", "position": {"x": 1, "y": 0},
                        "data": {"label": "t", "config": {"model_type": "xgboost", "target": "target"}}}],
             "edges": [{"id": "e", "source": "src", "target": "train"}]},
            "invalid_pipeline",
            None,
        ),
        (graph_for("random_forest", target="no_such_column"), "invalid_config", "target"),
        (graph_for("random_forest", hyperparameters={"n_estimators": -3}), "invalid_hyperparameter", "n_estimators"),
    ],
    ids=["missing_split", "unknown_column", "bad_hyperparameter"],
)
async def test_a_job_whose_graph_became_invalid_fails_with_its_error_code(
    job_world: JobWorld, graph: dict[str, Any], code: str, field: str | None
) -> None:
    # Jobs are validated at submission; this one is inserted as an older release might have left it.
    good = await job_world.submit(graph_for("logistic_regression"))
    async with job_world.sessions.begin() as session:
        created = await create_job(
            session, pipeline_id=good.pipeline_id, node_id="train", dataset_source_id=good.dataset_source_id,
            user_id=good.user_id, model_type="xgboost", hyperparameters={}, graph=graph,
        )
    assert await job_world.run(created.job.id) is Outcome.FAILED
    failed = await job_world.job(created.job.id)
    assert failed.status == "failed"
    assert failed.error_code == code
    assert failed.error_message
    if field:
        assert field in failed.error_message
    events = await job_world.events(created.job.id)
    _assert_gapless(events)
    assert events[-1]["error_code"] == code


async def test_an_unreadable_dataset_fails_the_job_with_dataset_error(job_world: JobWorld) -> None:
    job = await job_world.submit(graph_for("logistic_regression"))
    Path(job_world.datasets["breast_cancer"].storage_uri).write_bytes(b"\x00\x01 not a csv \xff" * 10)
    assert await job_world.run(job.id) is Outcome.FAILED
    failed = await job_world.job(job.id)
    assert failed.error_code == "dataset_error"
    assert "sha256" in (failed.error_message or "") or "read" in (failed.error_message or "")


async def test_submission_rejects_bad_graphs_and_hyperparameters_before_recording_anything(job_world: JobWorld) -> None:
    with pytest.raises(InvalidHyperparameter) as info:
        await job_world.submit(graph_for("xgboost", hyperparameters={"learning_rate": "__import__('os')"}))
    assert info.value.field == "hyperparameters.learning_rate"
    bad = graph_for("xgboost")
    bad["edges"] = [bad["edges"][0]]
    with pytest.raises(InvalidGraph):
        await job_world.submit(bad)
    assert job_world.sender.sent == []


async def test_a_second_job_on_an_active_node_is_refused_naming_the_active_job(job_world: JobWorld) -> None:
    first = await job_world.submit(graph_for("logistic_regression"))
    with pytest.raises(ActiveJobConflict) as info:
        await job_world.submit(graph_for("logistic_regression", hyperparameters={"C": 0.5}))
    assert info.value.details["active_job_id"] == first.id


async def test_the_per_user_quota_of_active_jobs_is_enforced(job_world: JobWorld) -> None:
    job_world.with_settings(one_active_per_node=False, max_active_per_user=2)
    await job_world.submit(graph_for("logistic_regression"))
    await job_world.submit(graph_for("logistic_regression"))
    with pytest.raises(QuotaExceeded):
        await job_world.submit(graph_for("logistic_regression"))


async def test_an_idempotency_key_returns_the_first_job(job_world: JobWorld) -> None:
    first = await job_world.submit(graph_for("logistic_regression"), idempotency_key="k-1")
    again = await job_world.submit(graph_for("logistic_regression"), idempotency_key="k-1")
    assert again.id == first.id
    assert job_world.sender.sent == [first.id]


async def test_a_job_whose_message_cannot_be_sent_fails_with_broker_unavailable(job_world: JobWorld) -> None:
    job_world.sender.fail_with = ConnectionError("redis is down")
    with pytest.raises(BrokerUnavailable) as info:
        await job_world.submit(graph_for("logistic_regression"))
    job = await job_world.job(info.value.details["job_id"])
    assert job.status == "failed"
    assert job.error_code == "broker_unavailable"


async def test_cancelling_a_queued_job_cancels_it_at_once_and_its_message_is_skipped(job_world: JobWorld) -> None:
    job = await job_world.submit(graph_for("logistic_regression"))
    cancelled = await cancel_training_job(job_world.ctx, job_world.reader, job.id)
    assert cancelled.status == "cancelled"
    assert await job_world.run(job.id) is Outcome.IGNORED_TERMINAL
    again = await cancel_training_job(job_world.ctx, job_world.reader, job.id)
    assert again.status == "cancelled"
    assert [e["status"] for e in await job_world.events(job.id)] == ["queued", "cancelled"]


async def _wait_status(world: JobWorld, job_id: str, status: str) -> None:
    await world.publisher.wait_for(job_id, status, within_s=60)


@pytest.mark.parametrize("model_type", ["xgboost", "lightgbm", "random_forest"])
async def test_cancelling_a_running_fit_stops_it_at_the_next_checkpoint(job_world: JobWorld, model_type: str) -> None:
    job = await job_world.submit(graph_for(model_type, hyperparameters={"n_estimators": 5000}), dataset="slow")
    running = asyncio.create_task(job_world.run(job.id))
    await _wait_status(job_world, job.id, "running")
    cancelling = await cancel_training_job(job_world.ctx, job_world.reader, job.id)
    assert cancelling.status == "cancelling"
    assert await running is Outcome.CANCELLED
    done = await job_world.job(job.id)
    assert done.status == "cancelled"
    assert done.model_version is None
    assert not (job_world.ctx.settings.artifacts_root / "uploads").exists()
    assert [e["status"] for e in await job_world.events(job.id)] == ["queued", "running", "cancelling", "cancelled"]
    assert job_world.terminated == []


async def test_a_job_past_its_max_runtime_fails_with_timeout(job_world: JobWorld) -> None:
    job = await job_world.submit(
        graph_for("xgboost", hyperparameters={"n_estimators": 10000, "max_depth": 10}, max_runtime_s=1), dataset="slow"
    )
    assert await job_world.run(job.id) is Outcome.FAILED
    done = await job_world.job(job.id)
    assert (done.status, done.error_code) == ("failed", "timeout")


async def test_a_fit_that_ignores_cancellation_past_the_grace_is_finalized_and_its_process_ended(
    job_world: JobWorld,
) -> None:
    # One XGBoost round on this data takes far longer than the 10 ms grace.
    job_world.with_settings(cancel_grace_s=0.01)
    job = await job_world.submit(
        graph_for("xgboost", hyperparameters={"n_estimators": 5000, "max_depth": 12}), dataset="slow"
    )
    running = asyncio.create_task(job_world.run(job.id))
    await _wait_status(job_world, job.id, "running")
    await cancel_training_job(job_world.ctx, job_world.reader, job.id)
    outcome = await running
    done = await job_world.job(job.id)
    assert done.status == "cancelled"
    if outcome is Outcome.FORCED:
        assert job_world.terminated == [True]
        assert (await job_world.events(job.id))[-1]["forced"] is True
    else:  # the fit reached a checkpoint inside the grace after all
        assert outcome is Outcome.CANCELLED


async def _make_stale(world: JobWorld, job_id: str) -> None:
    async with world.sessions.begin() as session:
        await session.execute(
            update(TrainingJob).where(TrainingJob.id == job_id).values(heartbeat_at=utcnow().replace(year=2000))
        )


async def _claim(world: JobWorld, job_id: str) -> None:
    async with world.sessions.begin() as session:
        assert await transition(session, job_id, JobStatus.RUNNING, expected=JobStatus.QUEUED) is not None


async def test_a_redelivered_message_for_a_job_running_elsewhere_is_dropped(job_world: JobWorld) -> None:
    job = await job_world.submit(graph_for("logistic_regression"))
    await _claim(job_world, job.id)
    async with job_world.sessions.begin() as session:
        await session.execute(update(TrainingJob).where(TrainingJob.id == job.id).values(heartbeat_at=utcnow()))
    assert await job_world.run(job.id) is Outcome.DROPPED_RUNNING_ELSEWHERE
    assert (await job_world.job(job.id)).status == "running"


async def test_a_redelivered_message_for_a_stale_job_retries_it_here(job_world: JobWorld) -> None:
    job = await job_world.submit(graph_for("logistic_regression"))
    await _claim(job_world, job.id)
    await _make_stale(job_world, job.id)
    assert await job_world.run(job.id) is Outcome.SUCCEEDED
    done = await job_world.job(job.id)
    assert (done.status, done.attempt) == ("succeeded", 2)
    assert done.model_artifact_uri == f"uploads/models/{done.pipeline_id}/{job.id}.attempt2.joblib"
    statuses = [e["status"] for e in await job_world.events(job.id) if e["type"] == "job.status"]
    assert statuses == ["queued", "running", "queued", "running", "succeeded"]


async def _take_over(world: JobWorld, job_id: str) -> int:
    """What the reaper and a second worker do to a run they believe lost: requeue, claim as attempt 2."""
    async with world.sessions.begin() as session:
        requeued = await transition(session, job_id, JobStatus.QUEUED, expected=JobStatus.RUNNING, expected_attempt=1,
                                    changes={"attempt": 2, "worker": None, "heartbeat_at": None, "progress": None})
        assert requeued is not None
        claimed = await transition(session, job_id, JobStatus.RUNNING, expected=JobStatus.QUEUED, expected_attempt=2,
                                   changes={"worker": "other-worker:2", "heartbeat_at": utcnow()})
        assert claimed is not None
        return claimed.job.last_seq


async def _assert_untouched_since_take_over(world: JobWorld, job_id: str, last_seq: int) -> None:
    job = await world.job(job_id)
    assert (job.status, job.attempt, job.worker, job.last_seq) == ("running", 2, "other-worker:2", last_seq)
    assert job.progress is None, "the lost run reported progress over its successor"
    assert job.model_version is None
    models = world.ctx.settings.artifacts_root / "uploads" / "models" / job.pipeline_id
    assert not models.exists() or list(models.iterdir()) == []


async def test_a_run_the_reaper_gave_away_stops_at_its_next_heartbeat_and_writes_nothing(job_world: JobWorld) -> None:
    job = await job_world.submit(graph_for("xgboost", hyperparameters={"n_estimators": 5000}), dataset="slow")
    running = asyncio.create_task(job_world.run(job.id))
    await _wait_status(job_world, job.id, "running")
    for _ in range(1200):  # up to a minute for the fit itself to begin
        if (await job_world.job(job.id)).progress is not None:
            break
        await asyncio.sleep(0.05)
    last_seq = await _take_over(job_world, job.id)
    assert await asyncio.wait_for(running, 30) is Outcome.SUPERSEDED
    await asyncio.sleep(0.5)  # a few heartbeat periods: the lost run's fit thread has nothing left to write
    await _assert_untouched_since_take_over(job_world, job.id, last_seq)


async def test_a_run_the_reaper_gave_away_that_finishes_first_records_no_version(job_world: JobWorld) -> None:
    job_world.with_settings(heartbeat_s=3600.0)  # the lost run never notices before its fit ends
    job = await job_world.submit(graph_for("random_forest", hyperparameters={"n_estimators": 60}), dataset="slow")
    running = asyncio.create_task(job_world.run(job.id))
    await _wait_status(job_world, job.id, "running")
    last_seq = await _take_over(job_world, job.id)
    assert await asyncio.wait_for(running, 60) is Outcome.SUPERSEDED
    await _assert_untouched_since_take_over(job_world, job.id, last_seq)
