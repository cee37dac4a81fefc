"""Checks from the stored dataset schema: column types followed through the plan, before any row is read."""

from __future__ import annotations

from typing import Any

import pytest

from actors.errors import InvalidGraph, InvalidNodeConfig, ModelError
from actors.ml.schema_check import kind_of
from actors.ml.validation import validate_job
from tests.actors.fit_helpers import node, training_graph

SCHEMA = [
    {"name": "x", "dtype": "float64", "integral": False},
    {"name": "city", "dtype": "object"},
    {"name": "flag", "dtype": "bool"},
    {"name": "y", "dtype": "float64", "integral": False},
    {"name": "k", "dtype": "float64", "integral": True},
    {"name": "label", "dtype": "object"},
]
NAMES = [c["name"] for c in SCHEMA]


def _check(graph: dict[str, Any], schema: list[Any] = SCHEMA) -> None:
    validate_job(graph, "train", NAMES, schema=schema)


def _refused(graph: dict[str, Any]) -> ModelError:
    with pytest.raises(ModelError) as caught:
        _check(graph)
    return caught.value


def test_dtype_names_map_to_number_bool_or_text() -> None:
    assert [kind_of(d) for d in ("int64", "float32", "Int64", "uint8", "bool", "boolean")] == [
        "number", "number", "number", "number", "bool", "bool"]
    assert {kind_of(d) for d in ("object", "string", "category", "datetime64[ns]")} == {"text"}


def test_a_text_feature_is_refused_unless_encoded_dropped_or_left_out() -> None:
    error = _refused(training_graph("random_forest", target="label"))
    assert isinstance(error, InvalidGraph)
    assert error.details == {"node_id": "train", "column": "city", "columns": ["city"]}
    _check(training_graph("random_forest", target="label", middle=(node("e", "encode"),)))
    _check(training_graph("random_forest", target="label", middle=(node("e", "encode", method="ordinal"),)))
    _check(training_graph("random_forest", target="label", middle=(node("d", "drop_columns", columns=["city"]),)))
    _check(training_graph("random_forest", target="label", middle=(node("s", "select_columns", columns=["x"]),)))


def test_numeric_steps_on_text_columns_name_the_step_and_column() -> None:
    for step in (node("i", "impute", strategy="median", columns=["city"]), node("i", "scale", columns=["city"])):
        error = _refused(training_graph("random_forest", target="label", middle=(step, node("e", "encode"))))
        assert isinstance(error, InvalidNodeConfig)
        assert error.details == {"node_id": "i", "column": "city"}
        assert error.field == "graph.nodes[2].data.config.columns"
    # After ordinal encoding the column holds numbers and may be scaled.
    middle = (node("e", "encode", method="ordinal"), node("s", "scale", columns=["city"]))
    _check(training_graph("random_forest", target="label", middle=middle))


def test_the_task_must_fit_the_target_column() -> None:
    middle = (node("e", "encode"),)
    error = _refused(training_graph("random_forest", target="y", task="classification", middle=middle))
    assert (error.field, error.details) == ("config.task", {"node_id": "train", "column": "y"})
    error = _refused(training_graph("random_forest", target="label", task="regression", middle=middle))
    assert (error.field, error.details["column"]) == ("config.task", "label")
    _check(training_graph("random_forest", target="k", task="classification", middle=middle))
    _check(training_graph("random_forest", target="y", middle=middle))


def test_a_schema_without_dtypes_is_left_to_the_worker() -> None:
    _check(training_graph("random_forest", target="label"), schema=NAMES)
