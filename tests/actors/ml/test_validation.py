"""validate_job: node configs, columns and warnings, without loading data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from actors.errors import InvalidGraph, InvalidNodeConfig, ModelError
from actors.ml.node_types import NODE_TYPES, node_type_schemas
from actors.ml.options import FitOptions
from actors.ml.validation import validate_job
from tests.actors.fit_helpers import chain, node, training_graph

COLUMNS = ["age", "city", "income", "target"]


def _error(graph: dict[str, Any], columns: list[str] | None = COLUMNS) -> ModelError:
    with pytest.raises(ModelError) as caught:
        validate_job(graph, "train", columns)
    return caught.value


def test_a_valid_job_is_resolved_without_data() -> None:
    graph = training_graph("random_forest", middle=(node("enc", "encode", columns=["city"]),),
                           task="classification", hyperparameters={"n_estimators": 10})

    job = validate_job(graph, "train", COLUMNS, options=FitOptions(n_jobs=4, random_state=5))

    assert job.model_type == "random_forest"
    assert job.task == "classification"
    assert job.target == "target"
    assert job.execution_order == ["src", "split", "enc", "train"]
    assert job.resolved_hyperparameters["n_estimators"] == 10
    assert job.resolved_hyperparameters["random_state"] == 5
    assert job.resolved_hyperparameters["n_jobs"] == 4
    assert job.warnings == []


def test_the_task_is_implied_by_single_task_families_and_unknown_otherwise() -> None:
    assert validate_job(training_graph("linear_regression"), "train").task == "regression"
    assert validate_job(training_graph("xgboost"), "train").task is None


@pytest.mark.parametrize(("graph", "field", "fragment"), [
    (training_graph("xgboost", split={"test_size": 1.5}), "graph.nodes[1].data.config.test_size", "must be <"),
    (training_graph("xgboost", split={"test_size": "0.2"}), "graph.nodes[1].data.config.test_size", "number"),
    (training_graph("xgboost", split={"shuffle": False, "stratify": True}), "graph.nodes[1].data.config.stratify",
     "shuffle"),
    (training_graph("xgboost", split={"test_sz": 0.2}), "graph.nodes[1].data.config.test_sz", "unknown key"),
    (training_graph("xgboost", middle=(node("s", "scale", method="zscore"),)), "graph.nodes[2].data.config.method",
     "must be one of"),
    (training_graph("xgboost", middle=(node("s", "scale", columns="age"),)), "graph.nodes[2].data.config.columns",
     "list of column names"),
    (training_graph("xgboost", middle=(node("i", "impute", strategy="constant"),)),
     "graph.nodes[2].data.config.fill_value", "required"),
    (training_graph("xgboost", middle=(node("d", "drop_columns", columns=["target"]),)),
     "graph.nodes[2].data.config.columns", "target"),
    (training_graph("xgboost", target=""), "config.target", "required"),
    (training_graph("xgboost", task="ranking"), "config.task", "must be one of"),
    (training_graph("linear_regression", task="classification"), "config.task", "does not support"),
    (training_graph("xgboost", max_runtime_s=0), "config.max_runtime_s", "must be >="),
    (training_graph("xgboost", hyperparameters={"eta": 0.3}), "hyperparameters.eta", "unknown key"),
])
def test_a_bad_config_is_rejected_naming_the_field(graph: dict[str, Any], field: str, fragment: str) -> None:
    error = _error(graph)

    assert error.field == field
    assert fragment in error.message


@pytest.mark.parametrize(("graph", "field"), [
    (training_graph("xgboost", target="label"), "config.target"),
    (training_graph("xgboost", middle=(node("s", "scale", columns=["agee"]),)), "graph.nodes[2].data.config.columns"),
    (training_graph("xgboost", split={"stratify": "town"}), "graph.nodes[1].data.config.stratify"),
    (training_graph("xgboost", middle=(node("d", "drop_columns", columns=["age"]),
                                       node("s", "scale", columns=["age"]))),
     "graph.nodes[3].data.config.columns"),
    (training_graph("xgboost", middle=(node("k", "select_columns", columns=["age"]),
                                       node("s", "scale", columns=["income"]))), "graph.nodes[3].data.config.columns"),
])
def test_unknown_columns_are_caught_when_the_dataset_columns_are_given(graph: dict[str, Any], field: str) -> None:
    error = _error(graph)

    assert isinstance(error, InvalidNodeConfig)
    assert error.field == field
    assert "unknown column" in error.message
    validate_job(graph, "train", None)


def test_one_hot_columns_may_be_referenced_downstream() -> None:
    graph = training_graph("xgboost", middle=(node("e", "encode", columns=["city"]),
                                              node("d", "drop_columns", columns=["city_Paris"])))

    assert validate_job(graph, "train", COLUMNS).execution_order[-2:] == ["d", "train"]


def test_stateful_nodes_before_the_split_are_warned_about_leakage() -> None:
    graph = chain(node("src", "dataset_source"), node("imp", "impute"), node("drop", "drop_columns", columns=["age"]),
                  node("split", "train_test_split"), node("sc", "scale"),
                  node("train", "train_model", model_type="xgboost", target="target"))

    job = validate_job(graph, "train", COLUMNS)

    assert [(w["code"], w["node_id"]) for w in job.warnings] == [("leakage", "imp")]


def test_resample_on_a_regression_task_is_rejected() -> None:
    graph = training_graph("linear_regression", middle=(node("bal", "resample"),))

    error = _error(graph)
    assert isinstance(error, InvalidGraph)
    assert error.field == "graph.nodes[2].data.config.method"


def test_the_node_type_schemas_cover_the_catalogue_and_are_json_ready() -> None:
    schemas = json.loads(json.dumps(node_type_schemas()))

    assert [s["type"] for s in schemas] == list(NODE_TYPES)
    split = next(s for s in schemas if s["type"] == "train_test_split")
    assert [p["name"] for p in split["config"]] == ["test_size", "random_state", "shuffle", "stratify"]
    train = next(s for s in schemas if s["type"] == "train_model")
    assert {p["name"] for p in train["config"]} == {"model_type", "task", "target", "hyperparameters",
                                                     "experiment_tag", "description", "max_runtime_s", "run_now"}
