"""The validation actor in a real ``mlw worker`` process on Redis: the report, cancel, timeout, SIGKILL.

The worker declares one actor per job kind; the validation job's message goes to the
``validate_model`` task, and the job shares the training jobs' cancellation, deadline and
lost-worker handling.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
from sklearn import metrics as skm
from sklearn.model_selection import train_test_split

from actors.jobs.service import SubmitRequest, cancel_training_job, submit_training_job
from actors.ml.artifacts import load_model
from store.models import TrainingJob
from tests.actors.jobs.test_validation_runner import _report, with_validation
from tests.actors.jobs.test_worker_process import (  # noqa: F401 - fixtures
    SQLITE_ONLY,
    WorkerProcess,
    live_world,
    wait_status,
    worker,
    worker_env,
)
from tests.job_fixtures import JobWorld, breast_cancer_frame, graph_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def _trained(world: JobWorld, graph: dict[str, Any], dataset: str) -> TrainingJob:
    job = await world.submit(graph, dataset=dataset)
    done = await wait_status(world, job.id, "succeeded", "failed")
    assert done.status == "succeeded", done.error_message
    return done


async def _submit(world: JobWorld, graph: dict[str, Any], dataset: str) -> TrainingJob:
    request = SubmitRequest(dataset_source_id=world.datasets[dataset].id, node_id="val", graph=graph)
    return await submit_training_job(world.ctx, world.reader, request)


async def test_a_validation_job_runs_in_a_worker_and_its_numbers_are_scikit_learns(
    live_world: JobWorld, worker: WorkerProcess,  # noqa: F811 - the fixtures imported above
) -> None:
    first = await _trained(live_world, graph_for("logistic_regression"), "breast_cancer")
    second = await _trained(live_world, graph_for("xgboost", hyperparameters={"n_estimators": 30}), "breast_cancer")
    job = await _submit(live_world, with_validation(graph_for("xgboost"), versions="1, 2", n_bootstrap=300),
                        "breast_cancer")
    done = await wait_status(live_world, job.id, "succeeded", "failed")
    assert (done.status, done.kind, done.error_message) == ("succeeded", "validation", None)
    assert done.worker and done.worker.split(":")[-1].isdigit()
    report = await _report(live_world, job.id)
    _, test = train_test_split(breast_cancer_frame(), test_size=0.25, random_state=7)
    for entry, trained in zip(report["versions"], (first, second), strict=True):
        model = load_model(live_world.ctx.storage.artifacts, trained.model_artifact_uri or "",
                           trained.artifact_sha256 or "")
        proba = model.predict_proba(test.drop(columns=["target"]))
        assert entry["metrics"]["roc_auc"] == pytest.approx(skm.roc_auc_score(test["target"], proba[:, 1]))
        assert entry["metrics"]["log_loss"] == pytest.approx(skm.log_loss(test["target"], proba))
    assert report["comparisons"][0]["metrics"]["roc_auc"]["ci_low"] is not None


@SQLITE_ONLY
async def test_a_validation_in_a_worker_is_cancelled_and_another_times_out(
    live_world: JobWorld, worker: WorkerProcess,  # noqa: F811 - the fixtures imported above
) -> None:
    live_world.with_settings(one_active_per_node=False)
    await _trained(live_world, graph_for("logistic_regression"), "slow")
    await _trained(live_world, graph_for("logistic_regression", hyperparameters={"C": 0.01}), "slow")
    heavy = with_validation(graph_for("logistic_regression"), versions="1, 2", n_bootstrap=10000)
    job = await _submit(live_world, heavy, "slow")
    await wait_status(live_world, job.id, "running")
    await cancel_training_job(live_world.ctx, live_world.reader, job.id)
    done = await wait_status(live_world, job.id, "cancelled", "failed", "succeeded", within_s=60)
    assert done.status == "cancelled"
    assert not any(e.get("forced") for e in await live_world.events(job.id)), "it stopped at a checkpoint"

    late = with_validation(graph_for("logistic_regression"), versions="1, 2", n_bootstrap=10000, max_runtime_s=2)
    timed = await _submit(live_world, late, "slow")
    done = await wait_status(live_world, timed.id, "failed", "succeeded", "cancelled", within_s=120)
    assert (done.status, done.error_code) == ("failed", "timeout")


@SQLITE_ONLY
async def test_sigkill_of_the_worker_child_mid_validation_is_retried_by_the_reaper(
    live_world: JobWorld, worker_env: dict[str, str],  # noqa: F811 - the fixtures imported above
) -> None:
    process = WorkerProcess(worker_env)
    process.start()
    try:
        await _trained(live_world, graph_for("logistic_regression"), "slow")
        await _trained(live_world, graph_for("logistic_regression", hyperparameters={"C": 0.01}), "slow")
        job = await _submit(live_world, with_validation(graph_for("logistic_regression"), versions="1, 2",
                                                        n_bootstrap=3000), "slow")
        running = await wait_status(live_world, job.id, "running")
        os.kill(int((running.worker or "").rsplit(":", 1)[-1]), signal.SIGKILL)
        done = await wait_status(live_world, job.id, "succeeded", "failed", "cancelled", within_s=240)
        assert (done.status, done.attempt) == ("succeeded", 2)
        statuses = [e["status"] for e in await live_world.events(job.id) if e["type"] == "job.status"]
        assert statuses.count("running") == 2 and "queued" in statuses[1:]
    finally:
        process.stop()
