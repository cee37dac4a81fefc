"""Hyperparameters carrying code, nested objects, huge numbers, NaN and Infinity.

Values are only ever compared and copied, never evaluated: a code string is just a wrong
type. Each submission must get a 4xx naming the hyperparameter, and leave no job, event,
pipeline or file behind. Bodies are written as raw JSON text, so ``NaN``, ``Infinity`` and
numbers beyond float range reach the server exactly as a hostile client sends them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from store.settings import Settings
from tests.hostile.conftest import AliceObjects
from tests.hostile.footprint import footprint
from tests.server.conftest import API, People, RecordingSender
from tests.server.seed import graph

MARK = "HOSTILE_VALUE"

CASES: list[tuple[str, str, str, str]] = [
    # (model_type, hyperparameter, raw JSON value, why)
    ("logistic_regression", "C", json.dumps("__import__('os').system('touch /tmp/pwned')"), "code string"),
    ("logistic_regression", "solver", json.dumps("lambda: 1"), "lambda string"),
    ("random_forest", "max_features", json.dumps("eval('1+1')"), "eval string"),
    ("logistic_regression", "__class__", json.dumps({"__reduce__": "os.system"}), "dunder key"),
    ("logistic_regression", "C", json.dumps({"a": {"b": [1, {"c": [2, 3]}]}}), "nested object"),
    ("logistic_regression", "max_iter", json.dumps([1, 2, 3]), "list"),
    ("logistic_regression", "max_iter", "1e308", "1e308"),
    ("random_forest", "n_estimators", "1e308", "1e308"),
    ("xgboost", "learning_rate", "1e308", "1e308"),
    ("random_forest", "max_depth", "1" + "0" * 400, "10**400 as a JSON number"),
    ("logistic_regression", "C", "1" + "0" * 400, "10**400 for a float"),
    ("lightgbm", "num_leaves", "-" + "9" * 400, "-(10**400 - 1)"),
    ("logistic_regression", "C", "1e400", "beyond float range"),
    ("logistic_regression", "C", "NaN", "NaN"),
    ("logistic_regression", "C", "Infinity", "Infinity"),
    ("logistic_regression", "tol", "-Infinity", "-Infinity"),
    ("random_forest", "max_depth", "NaN", "NaN for an int"),
    ("logistic_regression", "C", json.dumps("1\u0000"), "a NUL character"),
    ("logistic_regression", "C", "true", "a boolean"),
    ("logistic_regression", "C", "-1", "out of range"),
]


def submission(alices: AliceObjects, model_type: str, name: str, raw_value: str) -> bytes:
    """A submit body whose hyperparameter ``name`` is ``raw_value``, spliced in as raw JSON text."""
    task = "classification"
    config = {"model_type": model_type, "task": task, "target": "label", "hyperparameters": {name: MARK}}
    body = {"dataset_source_id": alices.dataset_id, "node_id": "train-2", "graph": graph(("train-1", "train-2")),
            "config": config}
    return json.dumps(body).replace(json.dumps(MARK), raw_value).encode()


@pytest.mark.parametrize(("model_type", "name", "raw", "why"), CASES, ids=[c[3] + ":" + c[1] for c in CASES])
async def test_a_hostile_hyperparameter_gets_a_4xx_naming_it_and_leaves_nothing_behind(
    client: TestClient[Any, Any],
    people: People,
    settings: Settings,
    alices: AliceObjects,
    sender: RecordingSender,
    model_type: str,
    name: str,
    raw: str,
    why: str,
) -> None:
    before = await footprint(settings)

    resp = await client.post(
        f"{API}/training-jobs",
        data=submission(alices, model_type, name, raw),
        headers={**people.alice.headers, "Content-Type": "application/json"},
    )

    body = await resp.json()
    assert resp.status == 422, (why, resp.status, body)
    error = body["error"]
    assert "hyperparameters" in error["details"]["field"] and name in error["details"]["field"], (why, error)
    assert len(error["message"]) < 300, error["message"]
    assert sender.sent == []
    assert (await footprint(settings)).added_since(before) == {}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [("NaN", "finite"), ("-Infinity", "finite"), ("1e999", "finite"), ("1" + "0" * 30, "at most"),
     (json.dumps("a\u0000b"), "NUL")],
)
async def test_a_saved_graph_with_a_value_no_database_can_store_is_refused_naming_the_field(
    client: TestClient[Any, Any], people: People, settings: Settings, alices: AliceObjects, raw: str, problem: str
) -> None:
    g = graph(("train-1", "train-2"))
    g["nodes"][2]["data"]["config"]["hyperparameters"] = {"C": MARK}
    text = json.dumps({"dataset_source_id": alices.dataset_id, "graph": g}).replace(json.dumps(MARK), raw)
    before = await footprint(settings)

    resp = await client.put(
        f"{API}/pipelines", data=text.encode(), headers={**people.alice.headers, "Content-Type": "application/json"}
    )

    error = (await resp.json())["error"]
    assert resp.status == 422, error
    assert error["details"]["field"] == "graph.nodes.2.data.config.hyperparameters.C"
    assert problem in error["message"]
    assert (await footprint(settings)).added_since(before) == {}


async def test_a_deeply_nested_hyperparameter_is_refused_without_a_crash(
    client: TestClient[Any, Any], people: People, settings: Settings, alices: AliceObjects
) -> None:
    deep = "[" * 5000 + "]" * 5000
    before = await footprint(settings)

    resp = await client.post(
        f"{API}/training-jobs",
        data=submission(alices, "logistic_regression", "C", deep),
        headers={**people.alice.headers, "Content-Type": "application/json"},
    )

    error = (await resp.json())["error"]
    assert resp.status in (400, 422), error
    assert error["details"]["field"] in ("body", "config.hyperparameters.C"), error
    assert (await footprint(settings)).added_since(before) == {}
