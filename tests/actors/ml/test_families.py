"""Hyperparameter schemas, defaults and the rejection of bad values."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from actors.errors import InvalidHyperparameter, InvalidNodeConfig
from actors.ml.families import MODEL_DEFAULTS, MODEL_TYPES, model_family_schemas, resolve_hyperparameters


def _resolve(model_type: str, raw: Any, task: str | None = "classification") -> dict[str, Any]:
    return resolve_hyperparameters(model_type, raw, task, random_state=11, n_jobs=3)


def test_the_registry_holds_the_documented_defaults() -> None:
    assert MODEL_DEFAULTS["random_forest"]["classification"]["n_estimators"] == 100
    assert MODEL_DEFAULTS["xgboost"]["regression"]["learning_rate"] == 0.1
    assert MODEL_DEFAULTS["lightgbm"]["classification"]["random_state"] == 42
    assert set(MODEL_DEFAULTS["linear_regression"]) == {"regression"}
    assert set(MODEL_DEFAULTS["logistic_regression"]) == {"classification"}


def test_blank_and_null_values_fall_back_to_defaults_and_options() -> None:
    resolved = _resolve("random_forest", {"n_estimators": "", "max_depth": None, "random_state": "  "})

    assert resolved["n_estimators"] == 100
    assert resolved["max_depth"] is None
    assert resolved["random_state"] == 11
    assert resolved["n_jobs"] == 3
    assert resolved["max_features"] == "sqrt"


def test_task_dependent_defaults_follow_the_task() -> None:
    assert _resolve("random_forest", {}, "regression")["max_features"] == "all"
    assert "class_weight" not in _resolve("random_forest", {}, "regression")
    assert _resolve("random_forest", {}, None)["max_features"] is None


def test_an_integral_float_is_accepted_for_an_integer() -> None:
    assert _resolve("xgboost", {"n_estimators": 50.0})["n_estimators"] == 50


@pytest.mark.parametrize(("model_type", "raw", "field", "fragment"), [
    ("xgboost", {"max_dept": 3}, "hyperparameters.max_dept", "unknown key"),
    ("xgboost", {"max_depth": "3"}, "hyperparameters.max_depth", "must be an integer"),
    ("xgboost", {"max_depth": True}, "hyperparameters.max_depth", "must be an integer"),
    ("xgboost", {"max_depth": 2.5}, "hyperparameters.max_depth", "must be an integer"),
    ("xgboost", {"learning_rate": 0}, "hyperparameters.learning_rate", "must be >"),
    ("xgboost", {"learning_rate": 1.5}, "hyperparameters.learning_rate", "must be <="),
    ("xgboost", {"learning_rate": math.nan}, "hyperparameters.learning_rate", "finite"),
    ("lightgbm", {"reg_alpha": math.inf}, "hyperparameters.reg_alpha", "finite"),
    ("random_forest", {"n_estimators": math.inf}, "hyperparameters.n_estimators", "finite"),
    ("random_forest", {"n_estimators": 0}, "hyperparameters.n_estimators", "must be >= 1"),
    ("random_forest", {"max_features": "auto"}, "hyperparameters.max_features", "must be one of"),
    ("random_forest", {"bootstrap": "yes"}, "hyperparameters.bootstrap", "true or false"),
    ("logistic_regression", {"solver": "__import__('os')"}, "hyperparameters.solver", "must be one of"),
    ("logistic_regression", {"l1_ratio": 0.5}, "hyperparameters.l1_ratio", "saga"),
    ("logistic_regression", {"C": [1]}, "hyperparameters.C", "must be a number"),
    ("linear_regression", {"n_jobs": 4}, "hyperparameters.n_jobs", "unknown key"),
])
def test_a_bad_hyperparameter_is_rejected_naming_the_field(
    model_type: str, raw: dict[str, Any], field: str, fragment: str
) -> None:
    task = "regression" if model_type == "linear_regression" else "classification"
    with pytest.raises(InvalidHyperparameter) as caught:
        _resolve(model_type, raw, task)

    assert caught.value.field == field
    assert caught.value.code == "invalid_hyperparameter"
    assert fragment in caught.value.message


def test_a_parameter_of_another_task_is_rejected() -> None:
    with pytest.raises(InvalidHyperparameter) as caught:
        _resolve("random_forest", {"class_weight": "balanced"}, "regression")

    assert caught.value.field == "hyperparameters.class_weight"


def test_hyperparameters_that_are_not_an_object_are_rejected() -> None:
    with pytest.raises(InvalidHyperparameter) as caught:
        _resolve("xgboost", ["n_estimators"])

    assert caught.value.field == "hyperparameters"


def test_an_unknown_model_type_names_the_config_field() -> None:
    with pytest.raises(InvalidNodeConfig) as caught:
        _resolve("svm", {})

    assert caught.value.field == "config.model_type"


def test_the_family_schemas_are_json_ready_and_complete() -> None:
    schemas = json.loads(json.dumps(model_family_schemas()))

    assert [s["model_type"] for s in schemas] == list(MODEL_TYPES)
    rf = next(s for s in schemas if s["model_type"] == "random_forest")
    trees = next(p for p in rf["hyperparameters"] if p["name"] == "n_estimators")
    assert trees == {"name": "n_estimators", "type": "int", "default": 100, "required": False, "advanced": False,
                     "description": "Number of trees.", "minimum": 1, "exclusive_minimum": False,
                     "maximum": 5000, "exclusive_maximum": False}
    for schema in schemas:
        for param in schema["hyperparameters"]:
            assert {"type", "default", "advanced", "description"} <= set(param)
