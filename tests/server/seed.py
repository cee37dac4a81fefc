"""Seeding the database of a server test through the store's real write path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from actors.ml.model_card import card_bytes, card_relpath, model_card, with_artifact
from store.blobs import open_blobs
from store.engine import create_engine, create_session_factory
from store.jobs import create_job, transition, update_progress
from store.settings import Settings
from store.versions import create_model_version
from tests.server.conftest import API, Person

IRIS_CSV = "sepal,petal,label\n" + "".join(f"{i * 0.1:.1f},{(i % 7) * 0.3:.1f},{'ab'[i % 2]}\n" for i in range(40))


def graph(train_ids: tuple[str, ...] = ("train-1",), *, split_size: float = 0.25) -> dict[str, Any]:
    """A canvas graph: dataset -> split -> one train_model node per id."""
    nodes: list[dict[str, Any]] = [
        {"id": "src", "type": "dataset_source", "position": {"x": 0, "y": 0}, "data": {"label": "Data", "config": {}}},
        {
            "id": "split",
            "type": "train_test_split",
            "position": {"x": 100, "y": 0},
            "data": {"label": "Split", "config": {"test_size": split_size, "random_state": 0}},
        },
    ]
    edges = [{"id": "e-src-split", "source": "src", "target": "split"}]
    for i, node_id in enumerate(train_ids):
        nodes.append(
            {
                "id": node_id,
                "type": "train_model",
                "position": {"x": 200, "y": 100 * i},
                "data": {
                    "label": "Train",
                    "config": {"model_type": "logistic_regression", "task": "classification", "target": "label"},
                },
            }
        )
        edges.append({"id": f"e-split-{node_id}", "source": "split", "target": node_id})
    return {"nodes": nodes, "edges": edges}


async def upload_csv(client: TestClient[Any, Any], who: Person, text: str = IRIS_CSV, name: str | None = None) -> str:
    """Upload a CSV through the API and return the dataset id."""
    form = FormData()
    form.add_field("file", text.encode(), filename="data.csv", content_type="text/csv")
    if name is not None:
        form.add_field("name", name)
    resp = await client.post(f"{API}/datasets", data=form, headers=who.headers)
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["id"])


async def save_pipeline(client: TestClient[Any, Any], who: Person, dataset_id: str, g: dict[str, Any]) -> str:
    """Save a graph through the API and return its pipeline id."""
    body = {"dataset_source_id": dataset_id, "graph": g}
    resp = await client.put(f"{API}/pipelines", json=body, headers=who.headers)
    assert resp.status in (200, 201), await resp.text()
    return str((await resp.json())["pipeline"]["pipeline_id"])


@asynccontextmanager
async def writer(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A write transaction on the test's database."""
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine).begin() as session:
            yield session
    finally:
        await engine.dispose()


async def add_job(
    settings: Settings,
    who: Person,
    pipeline_id: str,
    node_id: str,
    dataset_id: str,
    *,
    status: str = "queued",
    metrics: dict[str, Any] | None = None,
    hyperparameters: dict[str, Any] | None = None,
    model_type: str = "logistic_regression",
    progress: dict[str, Any] | None = None,
) -> tuple[str, int | None]:
    """Insert a job and walk it to ``status``; a succeeded job gets an artifact and a version.

    Returns the job id and its model version (None unless succeeded).
    """
    params = hyperparameters or {"C": 1.0}
    version: int | None = None
    async with writer(settings) as session:
        created = await create_job(
            session,
            pipeline_id=pipeline_id,
            node_id=node_id,
            dataset_source_id=dataset_id,
            user_id=who.id,
            model_type=model_type,
            hyperparameters=params,
            resolved_hyperparameters=params,
        )
        job_id = created.job.id
        if status in ("running", "succeeded", "failed", "cancelling"):
            await transition(session, job_id, "running", expected="queued")
            if progress is not None:  # the worker's last throttled report before the end
                await update_progress(session, job_id, progress)
        if status == "succeeded":
            relpath = f"uploads/models/{pipeline_id}/{job_id}.joblib"  # as the training actor records it
            blobs = open_blobs(settings).artifacts
            stored = blobs.put_bytes(relpath, b"model-bytes-" + job_id.encode())
            sha = stored.sha256
            # The card as the training actor writes it (actors.ml.model_card), for a one-column model.
            card_metrics = {"model_type": model_type, "task": "classification", "target": "target",
                            "features": ["x"], "train": metrics or {}, "test": metrics or {}}
            card = with_artifact(model_card(card_metrics, [{"name": "x", "dtype": "float64"}]),
                                 f"{job_id}.joblib", sha)
            blobs.put_bytes(card_relpath(relpath), card_bytes(card))
            mv = await create_model_version(
                session,
                pipeline_id=pipeline_id,
                node_id=node_id,
                job_id=job_id,
                model_type=model_type,
                hyperparameters=params,
                metrics=metrics or {},
                artifact_uri=stored.uri,
                artifact_sha256=sha,
            )
            version = mv.version
            changes = {
                "metrics": metrics or {},
                "model_version": version,
                "model_artifact_uri": stored.uri,
                "artifact_sha256": sha,
            }
            await transition(session, job_id, "succeeded", expected="running", changes=changes)
        elif status == "failed":
            await transition(
                session,
                job_id,
                "failed",
                expected="running",
                changes={"error_code": "training_error", "error_message": "boom"},
            )
        elif status == "cancelling":
            await transition(session, job_id, "cancelling", expected="running")
        elif status == "cancelled":
            await transition(session, job_id, "cancelled", expected="queued")
    return job_id, version


async def add_predictions_job(
    settings: Settings, who: Person, pipeline_id: str, node_id: str, dataset_id: str, *, version: int = 1,
    fmt: str = "csv",
) -> str:
    """Insert a succeeded predictions job of ``version`` with a small output file, as its actor records it."""
    async with writer(settings) as session:
        created = await create_job(
            session, pipeline_id=pipeline_id, node_id=node_id, dataset_source_id=dataset_id, user_id=who.id,
            model_type="logistic_regression", hyperparameters={}, kind="predictions",
            config={"version": version, "version_ref": str(version), "format": fmt},
        )
        job_id = created.job.id
        await transition(session, job_id, "running", expected="queued")
        relpath = f"uploads/predictions/{pipeline_id}/{job_id}.{fmt}"
        stored = open_blobs(settings).artifacts.put_bytes(relpath, b"sepal,petal,prediction\n0.1,0.3,a\n")
        changes = {"model_artifact_uri": stored.uri, "artifact_sha256": stored.sha256,
                   "metrics": {"predictions": {"rows": 1, "format": fmt, "version": version}}}
        await transition(session, job_id, "succeeded", expected="running", changes=changes)
    return job_id


def validation_graph(train_ids: tuple[str, ...] = ("train-1",), *, fed_by: str = "train-1") -> dict[str, Any]:
    """:func:`graph` plus a ``validate_model`` node ``val-1`` fed by ``fed_by``."""
    out = graph(train_ids)
    out["nodes"].append({"id": "val-1", "type": "validate_model", "position": {"x": 300, "y": 0},
                         "data": {"label": "Validate", "config": {"versions": "1", "n_bootstrap": 100}}})
    out["edges"].append({"id": "e-val", "source": fed_by, "target": "val-1"})
    return out


async def add_validation_job(
    settings: Settings, who: Person, pipeline_id: str, dataset_id: str, report: dict[str, Any]
) -> str:
    """A succeeded validation job of ``val-1`` (fed by ``train-1``) with ``report`` stored, as its actor ends one."""
    from store.insights import save_insights

    async with writer(settings) as session:
        created = await create_job(
            session, pipeline_id=pipeline_id, node_id="val-1", dataset_source_id=dataset_id, user_id=who.id,
            model_type="logistic_regression", hyperparameters={}, kind="validation",
            config={"train_node_id": "train-1", "versions": [{"ref": "1", "version": 1}]},
        )
        job_id = created.job.id
        await transition(session, job_id, "running", expected="queued")
        await transition(session, job_id, "succeeded", expected="running")
        await save_insights(session, job_id, 1, insights={"validation_report": report})
    return job_id


HOSTILE = "<script>alert(1)</script>"

SAMPLE_REPORT: dict[str, Any] = {
    "task": "classification", "target": "label", "rows": 10,
    "data": {"source": "test_partition", "training_rows": 30},
    "metric_names": ["accuracy", "f1"],
    "versions": [
        {"version": 1, "ref": "1", "job_id": "j1", "model_type": "logistic_regression",
         "metrics": {"accuracy": 0.8, "f1": 0.75}, "curves": {}},
        {"version": 2, "ref": "champion", "job_id": "j2", "model_type": "xgboost",
         "metrics": {"accuracy": 0.9, "f1": 0.85},
         "curves": {"roc": {"scheme": "binary", "curves": [{"label": "b", "auc": 0.9,
                                                             "points": [[0.0, 0.0], [0.2, 0.8], [1.0, 1.0]]}]}}},
    ],
    "comparisons": [{"baseline": 1, "version": 2, "metrics": {
        "accuracy": {"baseline": 0.8, "value": 0.9, "difference": 0.1, "ci_low": 0.02, "ci_high": 0.18,
                     "significant": True},
        "f1": {"baseline": 0.75, "value": 0.85, "difference": 0.1, "ci_low": -0.01, "ci_high": 0.2,
               "significant": False}}}],
    "bootstrap": {"resamples": 100, "seed": 0, "confidence": 0.95, "paired": True},
    "warnings": [{"code": "unseen_category", "column": HOSTILE, "message": f"column {HOSTILE} holds new values"}],
    "generated_at": 1764540000.0,
}
"""A report as the validation actor stores it, with a hostile column name (the HTML must escape it)."""
