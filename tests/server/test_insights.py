"""GET /training-jobs/{id}/insights: a job's curve and findings, documented, owner-only."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from aiohttp.test_utils import TestClient

from actors.jobs.cancel_signal import LocalCancelSignals
from actors.jobs.context import JobContext
from actors.jobs.publish import CollectingPublisher
from actors.jobs.runner import Outcome, run_job
from server.schemas.insights import InsightsOut
from store.engine import create_engine, create_session_factory
from store.settings import Settings
from tests.server.conftest import API, People
from tests.server.seed import graph, upload_csv

ROWS = np.random.default_rng(4).normal(size=(120, 3))
CSV = "a,b,c,label,amount\n" + "".join(
    f"{a:.4f},{b:.4f},{c:.4f},{'yes' if a + b > 0 else 'no'},{3 * a - b + 0.1 * c:.4f}\n" for a, b, c in ROWS)
NUMERIC_CSV = "a,b,c,amount\n" + "".join(f"{a:.4f},{b:.4f},{c:.4f},{3 * a - b + 0.1 * c:.4f}\n" for a, b, c in ROWS)


def _graph(model_type: str, target: str, **hyperparameters: Any) -> dict[str, Any]:
    g = graph()
    g["nodes"][-1]["data"]["config"] = {"model_type": model_type, "target": target,
                                        "hyperparameters": hyperparameters}
    return g


async def _trained(client: TestClient[Any, Any], people: People, settings: Settings, model_type: str,
                   target: str, run: bool = True, **hyperparameters: Any) -> str:
    dataset_id = await upload_csv(client, people.alice, CSV if target == "label" else NUMERIC_CSV)
    body = {"dataset_source_id": dataset_id, "node_id": "train-1", "graph": _graph(model_type, target,
                                                                                    **hyperparameters)}
    resp = await client.post(f"{API}/training-jobs", json=body, headers=people.alice.headers)
    assert resp.status == 202, await resp.text()
    job_id = str((await resp.json())["id"])
    if run:
        engine = create_engine(settings.database_url)
        try:
            ctx = JobContext(settings=settings, sessions=create_session_factory(engine),
                             publisher=CollectingPublisher(), cancel_signals=LocalCancelSignals())
            assert await run_job(ctx, job_id) is Outcome.SUCCEEDED
        finally:
            await engine.dispose()
    return job_id


async def _insights(client: TestClient[Any, Any], people: People, job_id: str) -> dict[str, Any]:
    resp = await client.get(f"{API}/training-jobs/{job_id}/insights", headers=people.alice.headers)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    InsightsOut.model_validate(body)  # the documented schema describes the answer exactly
    return body


async def test_a_classifier_has_its_curve_importance_and_diagnostic_curves(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    job_id = await _trained(client, people, settings, "xgboost", "label", n_estimators=25)

    body = await _insights(client, people, job_id)

    assert body["status"] == "succeeded"
    assert set(body) == {"job_id", "status", "model_type", "learning_curve", "feature_importance", "roc", "pr",
                         "calibration", "confusion_matrix", "explain"}
    assert body["learning_curve"]["count"] == 25
    assert {row["feature"] for row in body["feature_importance"]} == {"a", "b", "c", "amount"}
    assert body["roc"]["scheme"] == "binary" and body["roc"]["curves"][0]["label"] == "yes"


async def test_a_regressor_with_early_stopping_has_residuals_and_the_stopping_record(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    job_id = await _trained(client, people, settings, "lightgbm", "amount", n_estimators=400,
                            early_stopping_rounds=5, min_child_samples=5)

    body = await _insights(client, people, job_id)

    assert "roc" not in body and body["residuals"]["rows"] == 30
    assert body["early_stopping"]["rounds"] == 5
    assert body["learning_curve"]["best_step"] == body["early_stopping"]["best_iteration"]
    assert [s["partition"] for s in body["learning_curve"]["series"]] == ["train", "train", "validation",
                                                                          "validation"]


async def test_a_queued_job_has_no_insights_yet_and_another_users_job_is_404(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    job_id = await _trained(client, people, settings, "random_forest", "label", run=False)

    body = await _insights(client, people, job_id)
    assert body == {"job_id": job_id, "status": "queued", "model_type": "random_forest"}

    resp = await client.get(f"{API}/training-jobs/{job_id}/insights", headers=people.bob.headers)
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_found"
    resp = await client.get(f"{API}/training-jobs/{job_id}/insights", headers=people.admin.headers)
    assert resp.status == 200
    resp = await client.get(f"{API}/training-jobs/nope/insights", headers=people.alice.headers)
    assert resp.status == 404
    resp = await client.get(f"{API}/training-jobs/{job_id}/insights")
    assert resp.status == 401


@pytest.mark.parametrize("key", ["learning_curve", "feature_importance", "roc", "pr", "calibration", "residuals"])
async def test_the_openapi_document_describes_every_insight(
    client: TestClient[Any, Any], people: People, key: str
) -> None:
    resp = await client.get(f"{API}/openapi.json", headers=people.alice.headers)
    assert resp.status == 200, await resp.text()
    doc = await resp.json()
    operation = doc["paths"][f"{API}/training-jobs/{{job_id}}/insights"]["get"]
    assert {"200", "401", "404"} <= set(operation["responses"])
    assert key in doc["components"]["schemas"]["InsightsOut"]["properties"]
