"""The predictions actor driven directly: a real database, an in-process publisher, no broker."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from actors.jobs.kinds import runner_for
from actors.jobs.predictions_service import PredictionsRequest, submit_predictions_job
from actors.jobs.runner import Outcome
from actors.jobs.service import cancel_training_job
from actors.ml.artifacts import load_model
from actors.ml.table_read import read_frame
from store.aliases import set_alias
from store.deletion import delete_version
from store.errors import InvalidInput, NotFound, VersionDeleted
from store.kinds import JobKind
from tests.job_fixtures import JobWorld, graph_for

FOREST = {"n_estimators": 100, "max_depth": 8}
"""A forest whose predictions over the 20,000 ``slow`` rows take hundreds of 50-row chunks."""


async def _trained(world: JobWorld, model_type: str = "lightgbm", dataset: str = "breast_cancer",
                   **hyperparameters: Any) -> str:
    """Train one version of node ``train`` on ``dataset``; returns the pipeline id."""
    job = await world.submit(graph_for(model_type, hyperparameters=hyperparameters or {"n_estimators": 20}),
                             dataset=dataset)
    assert await world.run(job.id) is Outcome.SUCCEEDED
    return job.pipeline_id


async def _predict(world: JobWorld, pipeline_id: str, version: int | str = 1, dataset: str = "breast_cancer",
                   fmt: str = "parquet", **extra: Any) -> Any:
    request = PredictionsRequest(pipeline_id, "train", version, world.datasets[dataset].id, fmt, **extra)
    return await submit_predictions_job(world.ctx, world.reader, request)


@pytest.fixture
def small_chunks() -> Iterator[None]:
    runner = runner_for(JobKind.PREDICTIONS)
    before = runner.chunk_rows  # type: ignore[attr-defined]
    runner.chunk_rows = 50  # type: ignore[attr-defined]
    yield
    runner.chunk_rows = before  # type: ignore[attr-defined]


async def test_a_predictions_job_writes_every_row_with_labels_and_probabilities_equal_to_the_model(
    job_world: JobWorld,
) -> None:
    pipeline_id = await _trained(job_world)
    job = await _predict(job_world, pipeline_id, "active")
    assert (job.kind, job.status, job.node_id) == ("predictions", "queued", "train")
    assert job.config["version"] == 1 and job.config["version_ref"] == "active"
    assert job_world.sender.sent[-1] == job.id

    assert await job_world.run(job.id) is Outcome.SUCCEEDED

    done = await job_world.job(job.id)
    path = job_world.ctx.settings.artifacts_root / (done.model_artifact_uri or "")
    assert path.name == f"{job.id}.parquet" and path.parent.name == pipeline_id
    assert hashlib.sha256(path.read_bytes()).hexdigest() == done.artifact_sha256
    summary = done.metrics["predictions"]
    out = pq.read_table(path).to_pandas()
    source = job_world.datasets["breast_cancer"].storage_uri
    rows = read_frame(source, "csv", max_full_rows=10**6, sample_rows=10**6, seed=0).frame
    assert summary["rows"] == len(out) == len(rows) and summary["version"] == 1
    assert list(out.columns) == [*rows.columns, "prediction", "probability_0", "probability_1"]
    model = load_model(job_world.ctx.storage.artifacts, job.config["artifact_uri"], job.config["artifact_sha256"])
    np.testing.assert_array_equal(out["prediction"].to_numpy(), model.predict(rows))
    np.testing.assert_array_equal(out[["probability_0", "probability_1"]].to_numpy(), model.predict_proba(rows))
    events = await job_world.events(job.id)
    assert [e["status"] for e in events if e["type"] == "job.status"] == ["queued", "running", "succeeded"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["kind"] == "predictions" for e in events)
    assert job_world.publisher.of_job(job.id, persisted_only=True) == events


async def test_an_alias_is_resolved_at_submission_and_moving_it_later_changes_nothing(job_world: JobWorld) -> None:
    pipeline_id = await _trained(job_world)
    await _trained(job_world, "random_forest", n_estimators=10)
    async with job_world.sessions.begin() as session:
        await set_alias(session, pipeline_id, "train", "champion", 2, by="alice")
    job = await _predict(job_world, pipeline_id, "champion", fmt="csv")
    async with job_world.sessions.begin() as session:
        await set_alias(session, pipeline_id, "train", "champion", 1, by="alice")

    assert await job_world.run(job.id) is Outcome.SUCCEEDED

    done = await job_world.job(job.id)
    assert done.metrics["predictions"]["version"] == 2 and done.model_type == "random_forest"
    output = job_world.ctx.settings.artifacts_root / (done.model_artifact_uri or "")
    assert output.read_text().startswith('"mean radius"')


async def test_bad_references_are_refused_before_a_job_exists(job_world: JobWorld) -> None:
    pipeline_id = await _trained(job_world)
    with pytest.raises(NotFound):
        await _predict(job_world, pipeline_id, 7)
    with pytest.raises(NotFound) as unset:
        await _predict(job_world, pipeline_id, "champion")
    assert unset.value.kind == "alias"
    with pytest.raises(InvalidInput) as malformed:
        await _predict(job_world, pipeline_id, "-1")
    assert malformed.value.field == "version"
    with pytest.raises(InvalidInput) as fmt:
        await _predict(job_world, pipeline_id, 1, fmt="xlsx")
    assert fmt.value.field == "format"
    await _trained(job_world)
    async with job_world.sessions.begin() as session:
        await set_alias(session, pipeline_id, "train", "active", 2, by="alice")
        await delete_version(session, pipeline_id, "train", 1, reader=job_world.reader, by="alice")
    with pytest.raises(VersionDeleted):
        await _predict(job_world, pipeline_id, 1)


async def test_rows_without_the_model_columns_fail_the_job_with_a_dataset_error(job_world: JobWorld) -> None:
    pipeline_id = await _trained(job_world)
    job = await _predict(job_world, pipeline_id, 1, dataset="diabetes")

    assert await job_world.run(job.id) is Outcome.FAILED

    done = await job_world.job(job.id)
    assert done.error_code == "dataset_error" and "missing" in (done.error_message or "")
    assert done.model_artifact_uri is None
    folder = job_world.ctx.settings.artifacts_root / "uploads" / "predictions"
    assert [p for p in folder.rglob("*") if p.is_file()] == [], "no output, not even a partial one"


async def test_cancelling_a_running_predictions_job_stops_it_between_chunks_and_keeps_no_file(
    job_world: JobWorld, small_chunks: None,
) -> None:
    pipeline_id = await _trained(job_world, "random_forest", "slow", **FOREST)
    job = await _predict(job_world, pipeline_id, 1, dataset="slow")
    running = asyncio.create_task(job_world.run(job.id))
    await job_world.publisher.wait_for(job.id, "running", within_s=60)

    cancelling = await cancel_training_job(job_world.ctx, job_world.reader, job.id)

    assert cancelling.status == "cancelling"
    assert await running is Outcome.CANCELLED
    done = await job_world.job(job.id)
    assert done.status == "cancelled" and done.model_artifact_uri is None
    folder = job_world.ctx.settings.artifacts_root / "uploads" / "predictions"
    assert [p for p in folder.rglob("*") if p.is_file()] == [], "no output, not even a partial one"
    statuses = [e["status"] for e in await job_world.events(job.id) if e["type"] == "job.status"]
    assert statuses == ["queued", "running", "cancelling", "cancelled"]
    assert job_world.terminated == []


async def test_a_predictions_job_past_its_max_runtime_fails_with_timeout(
    job_world: JobWorld, small_chunks: None,
) -> None:
    pipeline_id = await _trained(job_world, "random_forest", "slow", **FOREST)
    job_world.with_settings(default_max_runtime_s=1)
    job = await _predict(job_world, pipeline_id, 1, dataset="slow")

    assert await job_world.run(job.id) is Outcome.FAILED

    done = await job_world.job(job.id)
    assert (done.status, done.error_code) == ("failed", "timeout")


async def test_progress_is_reported_in_rows(job_world: JobWorld, small_chunks: None) -> None:
    # Progress is published from the supervisor's polls: the work must outlast a few of them.
    pipeline_id = await _trained(job_world, "random_forest", "slow", **FOREST)
    job = await _predict(job_world, pipeline_id, 1, dataset="slow")

    assert await job_world.run(job.id) is Outcome.SUCCEEDED

    progress = [e["progress"] for e in job_world.publisher.of_job(job.id) if e["type"] == "job.progress"]
    assert progress and all(p["stage"] == "predict" and p["unit"] == "rows" for p in progress)
    rows = 20_000  # tests.job_fixtures.slow_dataset_frame
    assert all(p["total"] == rows for p in progress)
    completed = [p["completed"] for p in progress]
    assert completed == sorted(completed) and completed[-1] <= rows


def test_a_predictions_request_fingerprint_names_the_version_as_given() -> None:
    one = PredictionsRequest("p", "train", 1, "d", "csv")
    assert one.fingerprint() != PredictionsRequest("p", "train", "champion", "d", "csv").fingerprint()
    assert one.fingerprint() == PredictionsRequest("p", "train", 1, "d", "csv").fingerprint()
