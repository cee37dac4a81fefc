"""The training actor streams the learning curve as ephemeral progress and stores it with the job."""

from __future__ import annotations

import asyncio
from typing import Any

from actors.jobs.runner import Outcome
from actors.jobs.service import cancel_training_job
from store.insights import get_insights
from store.reader import Reader
from tests.job_fixtures import JobWorld, graph_for


async def _stored(job_world: JobWorld, job_id: str) -> dict[str, Any]:
    async with job_world.sessions() as session:
        return await get_insights(session, job_id, reader=Reader.system())


def _deltas(job_world: JobWorld, job_id: str) -> list[dict[str, Any]]:
    return [e["learning_curve"] for e in job_world.publisher.of_job(job_id)
            if e["type"] == "job.progress" and "learning_curve" in e]


async def test_curve_points_stream_in_order_and_the_stored_curve_replays_them(job_world: JobWorld) -> None:
    job = await job_world.submit(graph_for("xgboost", hyperparameters={"n_estimators": 300}))

    assert await job_world.run(job.id) is Outcome.SUCCEEDED

    deltas = _deltas(job_world, job.id)
    assert len(deltas) >= 2, "a 300-round fit streams its curve in several updates"
    streamed: list[list[Any]] = []
    for delta in deltas:
        assert delta["offset"] == len(streamed), "each update continues where the previous one ended"
        streamed.extend(delta["points"])
        assert delta["count"] == len(streamed)
    stored = await _stored(job_world, job.id)
    curve = stored["learning_curve"]
    assert curve["count"] == 300 and len(curve["points"]) == 300
    assert curve["points"][: len(streamed)] == streamed
    assert curve["series"] == deltas[0]["series"]
    findings = stored["insights"]
    assert {"feature_importance", "roc", "pr", "calibration", "confusion_matrix", "explain"} <= set(findings)
    stages = {e["progress"]["stage"] for e in job_world.publisher.of_job(job.id) if e["type"] == "job.progress"}
    assert "fit" in stages


async def test_a_cancelled_fit_keeps_the_curve_it_drew(job_world: JobWorld) -> None:
    job = await job_world.submit(graph_for("lightgbm", hyperparameters={"n_estimators": 5000, "num_leaves": 63}),
                                 dataset="slow")

    async def cancel_after_some_points() -> None:
        for _ in range(3000):
            if _deltas(job_world, job.id):
                break
            await asyncio.sleep(0.02)
        await cancel_training_job(job_world.ctx, job_world.reader, job.id)

    outcome, _ = await asyncio.gather(job_world.run(job.id), cancel_after_some_points())

    assert outcome is Outcome.CANCELLED
    stored = await _stored(job_world, job.id)
    curve = stored["learning_curve"]
    assert curve is not None and 0 < curve["count"] < 5000
    assert stored["insights"] is None


async def test_a_regression_job_stores_residuals_and_no_classification_curves(job_world: JobWorld) -> None:
    job = await job_world.submit(graph_for("random_forest", hyperparameters={"n_estimators": 30}),
                                 dataset="diabetes")

    assert await job_world.run(job.id) is Outcome.SUCCEEDED

    stored = await _stored(job_world, job.id)
    assert stored["learning_curve"]["unit"] == "trees"
    assert "residuals" in stored["insights"] and "roc" not in stored["insights"]
