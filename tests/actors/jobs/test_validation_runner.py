"""The validation actor driven directly: a real database, an in-process publisher, no broker.

Versions are trained by the training actor first; the validation job then evaluates them
on the same rows, and its numbers are checked against scikit-learn's on those rows.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.model_selection import train_test_split

from actors.errors import InvalidGraph, InvalidNodeConfig
from actors.jobs.runner import Outcome
from actors.jobs.service import SubmitRequest, cancel_training_job, submit_training_job
from actors.ml.artifacts import load_model
from store.datasets import create_dataset
from store.errors import NotFound
from store.insights import get_insights
from store.models import TrainingJob
from store.reader import Reader
from tests.job_fixtures import JobWorld, breast_cancer_frame, graph_for, graph_node


def with_validation(graph: dict[str, Any], **config: Any) -> dict[str, Any]:
    """``graph`` with a ``validate_model`` node ``val`` fed by its ``train`` node."""
    node = graph_node("val", "validate_model", config, x=600)
    return {"nodes": [*graph["nodes"], node],
            "edges": [*graph["edges"], {"id": "e-val", "source": "train", "target": "val"}]}


async def _train(world: JobWorld, graph: dict[str, Any], dataset: str) -> TrainingJob:
    job = await world.submit(graph, dataset=dataset)
    assert await world.run(job.id) is Outcome.SUCCEEDED
    return await world.job(job.id)


async def _validate(world: JobWorld, graph: dict[str, Any], dataset: str = "breast_cancer") -> TrainingJob:
    request = SubmitRequest(dataset_source_id=world.datasets[dataset].id, node_id="val", graph=graph)
    return await submit_training_job(world.ctx, world.reader, request)


async def _report(world: JobWorld, job_id: str) -> dict[str, Any]:
    async with world.sessions() as session:
        found = await get_insights(session, job_id, reader=Reader.system())
    return dict(found["insights"]["validation_report"])


async def _add_dataset(world: JobWorld, name: str, frame: pd.DataFrame) -> None:
    path = world.ctx.settings.data_dir / f"{name}.csv"
    frame.to_csv(path, index=False)
    async with world.sessions.begin() as session:
        world.datasets[name] = await create_dataset(
            session, owner_id=world.reader.user_id or "", name=name, storage_uri=str(path), format="csv",
            n_rows=len(frame), columns=[{"name": str(c), "dtype": str(t)} for c, t in frame.dtypes.items()],
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        )


async def test_two_versions_are_scored_on_the_test_rows_exactly_as_scikit_learn_scores_them(
    job_world: JobWorld,
) -> None:
    first = await _train(job_world, graph_for("logistic_regression", hyperparameters={"C": 1.0}), "breast_cancer")
    second = await _train(job_world, graph_for("random_forest", hyperparameters={"n_estimators": 20}),
                          "breast_cancer")
    graph = with_validation(graph_for("random_forest"), versions="1, 2", n_bootstrap=200, random_state=3)
    job = await _validate(job_world, graph)
    assert (job.kind, job.status, job_world.sender.kinds[job.id]) == ("validation", "queued", "validation")
    assert job.pipeline_id == first.pipeline_id, "a validation node is off the data path: same pipeline"
    assert await job_world.run(job.id) is Outcome.SUCCEEDED

    report = await _report(job_world, job.id)
    frame = breast_cancer_frame()
    _, test = train_test_split(frame, test_size=0.25, random_state=7)
    assert report["rows"] == len(test) and report["data"]["source"] == "test_partition"
    y_true = test["target"].to_numpy()
    for entry, trained in zip(report["versions"], (first, second), strict=True):
        model = load_model(job_world.ctx.storage.artifacts, trained.model_artifact_uri or "",
                           trained.artifact_sha256 or "")
        raw = test.drop(columns=["target"])
        predicted, proba = model.predict(raw), model.predict_proba(raw)
        expected = {
            "accuracy": skm.accuracy_score(y_true, predicted), "f1": skm.f1_score(y_true, predicted),
            "precision": skm.precision_score(y_true, predicted), "recall": skm.recall_score(y_true, predicted),
            "roc_auc": skm.roc_auc_score(y_true, proba[:, 1]), "log_loss": skm.log_loss(y_true, proba),
        }
        assert entry["version"] == trained.model_version
        for name, value in expected.items():
            assert entry["metrics"][name] == pytest.approx(value, abs=1e-12), name
        # The test partition is the one training scored: the same numbers as the training job's.
        assert entry["metrics"]["accuracy"] == pytest.approx((trained.metrics or {})["test"]["accuracy"])
        assert {"roc", "pr", "calibration"} <= set(entry["curves"])

    [comparison] = report["comparisons"]
    assert (comparison["baseline"], comparison["version"]) == (1, 2)
    accuracy = comparison["metrics"]["accuracy"]
    base, other = (report["versions"][i]["metrics"]["accuracy"] for i in (0, 1))
    assert accuracy["difference"] == pytest.approx(other - base)
    assert accuracy["ci_low"] <= accuracy["difference"] <= accuracy["ci_high"]
    assert report["bootstrap"] == {"resamples": 200, "seed": 3, "confidence": 0.95, "paired": True}

    done = await job_world.job(job.id)
    assert done.metrics is not None and set(done.metrics["versions"]) == {"1", "2"}
    statuses = [e["status"] for e in await job_world.events(job.id) if e["type"] == "job.status"]
    assert statuses == ["queued", "running", "succeeded"]

    again = await _validate(job_world, graph)
    assert await job_world.run(again.id) is Outcome.SUCCEEDED
    assert (await _report(job_world, again.id))["comparisons"] == report["comparisons"], "seeded: same intervals"


def _shop(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], size=rows)
    size = rng.normal(10.0, 2.0, size=rows)
    weight = rng.normal(5.0, 1.0, size=rows)
    target = ((colour == "red") ^ (size > 10.0)).astype(int)
    return pd.DataFrame({"colour": colour, "size": size, "weight": weight, "target": target})


def _shop_graph(**validation: Any) -> dict[str, Any]:
    steps = (graph_node("impute", "impute", {"strategy": "mean"}), graph_node("encode", "encode", {"method": "onehot"}))
    return with_validation(graph_for("logistic_regression", split={"test_size": 0.3, "random_state": 1},
                                     middle=steps), **validation)


async def test_unseen_categories_missing_columns_and_far_values_are_warnings_not_crashes(
    job_world: JobWorld,
) -> None:
    await _add_dataset(job_world, "shop", _shop(400, 1))
    other = _shop(120, 2).drop(columns=["weight"])
    other.loc[:9, "colour"] = "purple"
    other.loc[10:14, "size"] = 500.0
    other["note"] = "extra"
    await _add_dataset(job_world, "shop_new", other)
    await _train(job_world, _shop_graph(), "shop")
    graph = _shop_graph(dataset_source_id=job_world.datasets["shop_new"].id, n_bootstrap=100)
    job = await _validate(job_world, graph, dataset="shop")
    assert await job_world.run(job.id) is Outcome.SUCCEEDED

    report = await _report(job_world, job.id)
    codes = {(w["code"], w.get("column")) for w in report["warnings"]}
    assert {("missing_column", "weight"), ("extra_column", "note"), ("unseen_category", "colour"),
            ("out_of_range", "size")} <= codes
    unseen = next(w for w in report["warnings"] if w["code"] == "unseen_category")
    assert (unseen["rows"], unseen["values"]) == (10, ["purple"])
    assert report["rows"] == 120 and report["data"]["source"] == "dataset"
    [entry] = report["versions"]
    assert "error" not in entry and entry["metrics"]["accuracy"] is not None
    done = await job_world.job(job.id)
    assert {w["code"] for w in done.warnings} >= {"missing_column", "unseen_category"}
    warned = [e for e in await job_world.events(job.id) if e["type"] == "job.warning"]
    assert {e["warning"]["code"] for e in warned} >= {"missing_column", "unseen_category", "out_of_range"}


async def test_a_validation_node_needs_a_trained_input_and_existing_versions(job_world: JobWorld) -> None:
    graph = with_validation(graph_for("logistic_regression"), versions="1")
    with pytest.raises(NotFound):
        await _validate(job_world, graph)  # nothing trained yet
    await _train(job_world, graph_for("logistic_regression"), "breast_cancer")
    with pytest.raises(NotFound):
        await _validate(job_world, with_validation(graph_for("logistic_regression"), versions="7"))
    unfed = with_validation(graph_for("logistic_regression"))
    unfed["edges"] = [e for e in unfed["edges"] if e["target"] != "val"]
    with pytest.raises(InvalidGraph) as caught:
        await _validate(job_world, unfed)
    assert caught.value.field == "graph.edges"
    with pytest.raises(InvalidNodeConfig) as bad:
        await _validate(job_world, with_validation(graph_for("logistic_regression"), n_bootstrap=3))
    assert bad.value.field == "config.n_bootstrap"
    active = await _validate(job_world, with_validation(graph_for("logistic_regression")))
    assert active.config["versions"] == [{"ref": "active", "version": 1}]


async def test_cancelling_a_running_validation_stops_it_and_a_deadline_fails_it_with_timeout(
    job_world: JobWorld,
) -> None:
    await _train(job_world, graph_for("logistic_regression"), "slow")
    await _train(job_world, graph_for("logistic_regression", hyperparameters={"C": 0.01}), "slow")
    heavy = with_validation(graph_for("logistic_regression"), versions="1, 2", n_bootstrap=10000)
    job = await _validate(job_world, heavy, dataset="slow")
    running = asyncio.create_task(job_world.run(job.id))
    await job_world.publisher.wait_for(job.id, "running", within_s=60)
    assert (await cancel_training_job(job_world.ctx, job_world.reader, job.id)).status == "cancelling"
    assert await running is Outcome.CANCELLED
    statuses = [e["status"] for e in await job_world.events(job.id) if e["type"] == "job.status"]
    assert statuses == ["queued", "running", "cancelling", "cancelled"]

    late = await _validate(job_world, with_validation(graph_for("logistic_regression"), versions="1, 2",
                                                      n_bootstrap=10000, max_runtime_s=1), dataset="slow")
    assert await job_world.run(late.id) is Outcome.FAILED
    done = await job_world.job(late.id)
    assert (done.status, done.error_code) == ("failed", "timeout")
    assert job_world.terminated == []


async def test_versions_may_be_named_by_alias_and_the_job_keeps_the_versions_they_named(job_world: JobWorld) -> None:
    from store.aliases import set_alias

    first = await _train(job_world, graph_for("logistic_regression"), "breast_cancer")
    await _train(job_world, graph_for("logistic_regression", hyperparameters={"C": 0.05}), "breast_cancer")
    async with job_world.sessions.begin() as session:
        await set_alias(session, first.pipeline_id, "train", "champion", 2, job_world.reader.user_id)
        await set_alias(session, first.pipeline_id, "train", "challenger", 1, job_world.reader.user_id)
    graph = with_validation(graph_for("logistic_regression"), versions="champion, challenger", n_bootstrap=100)
    job = await _validate(job_world, graph)
    assert job.config["versions"] == [{"ref": "champion", "version": 2}, {"ref": "challenger", "version": 1}]
    async with job_world.sessions.begin() as session:  # moving an alias after submission changes nothing
        await set_alias(session, first.pipeline_id, "train", "champion", 1, job_world.reader.user_id)
    assert await job_world.run(job.id) is Outcome.SUCCEEDED
    report = await _report(job_world, job.id)
    assert [(v["version"], v["ref"]) for v in report["versions"]] == [(2, "champion"), (1, "challenger")]
    assert (report["comparisons"][0]["baseline"], report["comparisons"][0]["version"]) == (2, 1)
    with pytest.raises(NotFound):
        await _validate(job_world, with_validation(graph_for("logistic_regression"), versions="staging"))


async def test_a_validation_job_takes_its_turn_under_the_users_running_cap_like_any_job(job_world: JobWorld) -> None:
    from actors.jobs.dispatch import dispatch

    await _train(job_world, graph_for("logistic_regression"), "breast_cancer")
    job_world.with_settings(max_running_per_user=1, one_active_per_node=False)
    busy = await job_world.submit(graph_for("logistic_regression", hyperparameters={"C": 0.5}))
    waiting = await _validate(job_world, with_validation(graph_for("logistic_regression"), n_bootstrap=100))
    assert busy.id in job_world.sender.sent and waiting.id not in job_world.sender.sent, "its user's slot is taken"
    assert (await job_world.job(waiting.id)).admitted_at is None
    assert await job_world.run(busy.id) is Outcome.SUCCEEDED
    await dispatch(job_world.ctx)  # what the actor does after each job
    assert job_world.sender.sent[-1] == waiting.id
    assert job_world.sender.kinds[waiting.id] == "validation", "sent to the validate_model actor"
    assert await job_world.run(waiting.id) is Outcome.SUCCEEDED
