"""A downloaded model runs where only the model libraries are installed, and predicts as the service does.

A real ``mlw serve`` trains one model of every family on a raw mixed CSV (numbers with
gaps, a text column with gaps) through impute, one-hot encoding and scaling. Each artifact
and its model card are downloaded through the REST API, then loaded in a fresh virtual
environment holding only scikit-learn, XGBoost, LightGBM, pandas and joblib (and what they
require), which reads the CSV with plain ``pandas.read_csv``. Its predictions must be
identical to the service's batch predictions of the same rows.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.e2e.clients import Api
from tests.e2e.conftest import SingleNode
from tests.e2e.portable_env import ModelEnv
from tests.e2e.processes import API
from tests.job_fixtures import graph_node

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CLASSIFIERS = {"logistic_regression": {}, "random_forest": {"n_estimators": 30},
               "xgboost": {"n_estimators": 30}, "lightgbm": {"n_estimators": 30}}
REGRESSORS = {"linear_regression": {}, "random_forest": {"n_estimators": 20}, "xgboost": {"n_estimators": 20},
              "lightgbm": {"n_estimators": 20}}

PREDICT_IN_MODEL_ENV = """
import json, sys
import joblib, numpy as np, pandas as pd
frame = pd.read_csv(sys.argv[1], float_precision="round_trip").drop(columns=["label", "amount"])
out = {}
for name in json.loads(sys.argv[2]):
    model = joblib.load(f"{sys.argv[3]}/{name}.joblib")
    labels = model.predict(frame)
    out[name] = {"predict": [x.item() if hasattr(x, "item") else x for x in labels]}
    if hasattr(model, "predict_proba"):
        out[name]["proba"] = model.predict_proba(frame).tolist()
        out[name]["classes"] = [str(c) for c in model.classes_]
import importlib.util
out["_project_importable"] = any(importlib.util.find_spec(m) is not None for m in ("actors", "server", "store"))
print(json.dumps(out))
"""


def _node(node_id: str, node_type: str, **config: Any) -> dict[str, Any]:
    return graph_node(node_id, node_type, config)


def _graph() -> dict[str, Any]:
    """src -> split, then per task: drop the other target -> impute -> encode -> scale -> one train node per family."""
    # Built by hand: two branches after the split, each with its own train nodes, a shape graph_for does not make.
    nodes = [_node("src", "dataset_source"), _node("split", "train_test_split", test_size=0.25, random_state=3)]
    edges = [{"id": "e-src", "source": "src", "target": "split"}]
    for prefix, other, target, families in (("cls", "amount", "label", CLASSIFIERS),
                                            ("reg", "label", "amount", REGRESSORS)):
        chain = [_node(f"{prefix}-drop", "drop_columns", columns=[other]),
                 _node(f"{prefix}-impute", "impute", strategy="median"),
                 _node(f"{prefix}-encode", "encode", method="onehot", columns=["city"]),
                 _node(f"{prefix}-scale", "scale", method="standard")]
        trains = [_node(f"{prefix}-{m}", "train_model", model_type=m, target=target, hyperparameters=h,
                        **({"task": "regression"} if prefix == "reg" else {}))
                  for m, h in families.items()]
        nodes += chain + trains
        links = [("split", chain[0]["id"])] + [(a["id"], b["id"]) for a, b in itertools.pairwise(chain)]
        links += [(chain[-1]["id"], t["id"]) for t in trains]
        edges += [{"id": f"e-{a}-{b}", "source": a, "target": b} for a, b in links]
    return {"nodes": nodes, "edges": edges}


def _mixed_csv(path: Path, rows: int = 3_000) -> Path:
    rng = np.random.default_rng(5)
    city = rng.choice(np.array(["Paris", "Lyon", "Nice", "Brest", None], dtype=object), size=rows)
    income = np.round(rng.normal(50, 12, size=rows), 3)
    income[::11] = np.nan
    age = rng.integers(18, 90, size=rows)
    frame = pd.DataFrame({"age": age, "city": city, "income": income, "score": np.round(rng.normal(size=rows), 4)})
    frame["label"] = np.where((np.nan_to_num(income, nan=50) + 8 * (city == "Nice") + rng.normal(0, 5, rows)) > 52,
                              "high", "low")
    frame["amount"] = np.round(np.nan_to_num(income, nan=50) * 2.5 + age + rng.normal(0, 3, rows), 3)
    frame.to_csv(path, index=False)
    return path


async def _download(api: Api, path: str) -> tuple[bytes, dict[str, str]]:
    async with api.session.get(f"{api.base_url}{API}{path}", headers={"Authorization": f"Bearer {api.token}"}) as r:
        assert r.status == 200, (path, r.status, await r.text())
        return await r.read(), dict(r.headers)


async def test_every_family_downloaded_predicts_in_a_bare_model_environment_exactly_as_the_service(
    single_node: SingleNode, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    csv = _mixed_csv(tmp_path / "people.csv")
    models = tmp_path_factory.mktemp("model-env")
    env = ModelEnv(models / "venv").create()
    async with aiohttp.ClientSession() as http:
        alice = Api(http, single_node.url, single_node.alice)
        dataset = await alice.upload_dataset(csv)
        graph = _graph()
        await alice.save_pipeline(dataset, graph)
        trains = [n["id"] for n in graph["nodes"] if n["type"] == "train_model"]
        jobs = {node: (await alice.submit(dataset, graph, node))["id"] for node in trains}
        cards: dict[str, dict[str, Any]] = {}
        predictions: dict[str, str] = {}
        for node, job_id in jobs.items():
            done = await alice.wait_job(job_id, within_s=300)
            assert done["status"] == "succeeded", done
            body, headers = await _download(alice, f"/training-jobs/{job_id}/artifact")
            assert hashlib.sha256(body).hexdigest() == headers["X-Artifact-SHA256"] == done["artifact_sha256"]
            (models / f"{node}.joblib").write_bytes(body)
            card, _ = await _download(alice, f"/training-jobs/{job_id}/model-card")
            cards[node] = json.loads(card)
            # The service's batch predictions of the same rows, by the version's alias.
            path = f"/pipelines/{done['pipeline_id']}/nodes/{node}/versions/active/predictions"
            submitted = await alice._json("POST", path, 202, json={"dataset_id": dataset, "format": "parquet"})
            predictions[node] = submitted["id"]
        outputs: dict[str, pd.DataFrame] = {}
        for node, job_id in predictions.items():
            done = await alice.wait_job(job_id, within_s=300)
            assert done["status"] == "succeeded", done
            body, headers = await _download(alice, f"/training-jobs/{job_id}/predictions")
            assert hashlib.sha256(body).hexdigest() == headers["X-Artifact-SHA256"]
            outputs[node] = pq.read_table(io.BytesIO(body)).to_pandas()

    printed = env.run_code(PREDICT_IN_MODEL_ENV, str(csv), json.dumps(trains), str(models))
    portable = json.loads(printed.strip().splitlines()[-1])

    assert portable.pop("_project_importable") is False
    for node in trains:
        card, service = cards[node], outputs[node]
        assert card["artifact"]["sha256"] == hashlib.sha256((models / f"{node}.joblib").read_bytes()).hexdigest()
        other = "amount" if node.startswith("cls-") else "label"
        assert [c["name"] for c in card["inputs"]] == ["age", "city", "income", "score", other]
        assert len(service) == 3_000 and list(service.columns[:6]) == ["age", "city", "income", "score", "label",
                                                                       "amount"]
        if node.startswith("cls-"):
            assert portable[node]["classes"] == card["classes"] == ["high", "low"]
            assert portable[node]["predict"] == list(service["prediction"]), node
            np.testing.assert_array_equal(np.asarray(portable[node]["proba"]),
                                          service[["probability_high", "probability_low"]].to_numpy())
        else:
            assert "probability_high" not in service.columns
            np.testing.assert_array_equal(np.asarray(portable[node]["predict"], dtype=np.float64),
                                          service["prediction"].to_numpy())
