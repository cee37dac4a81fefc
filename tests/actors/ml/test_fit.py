"""The fits of actors/ml equal direct library fits on the same split, to 1e-9."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn import metrics as skm
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from actors.errors import InvalidGraph, InvalidNodeConfig, ModelError
from actors.ml.dataset import file_sha256
from actors.ml.fit import TrainingResult, run_training
from actors.ml.options import DatasetRef, FitOptions
from actors.ml.steps import Scale
from tests.actors.fit_helpers import chain, node, training_graph, write_dataset

OPTIONS = FitOptions(n_jobs=2, random_state=7)
SMALL = {"random_forest": {"n_estimators": 15}, "xgboost": {"n_estimators": 15}, "lightgbm": {"n_estimators": 15}}
CLASSIFIERS = {
    "logistic_regression": LogisticRegression,
    "random_forest": RandomForestClassifier,
    "xgboost": xgboost.XGBClassifier,
    "lightgbm": lightgbm.LGBMClassifier,
}
REGRESSORS = {
    "linear_regression": LinearRegression,
    "random_forest": RandomForestRegressor,
    "xgboost": xgboost.XGBRegressor,
    "lightgbm": lightgbm.LGBMRegressor,
}
CASES = [(family, data) for family in CLASSIFIERS for data in ("breast_cancer", "wine")] + [
    (family, "diabetes") for family in REGRESSORS
]
SCALED = {"logistic_regression", "linear_regression"}
CURVED = {"random_forest", "xgboost", "lightgbm"}


def _library_kwargs(model_type: str, resolved: dict[str, Any]) -> dict[str, Any]:
    """The resolved hyperparameters spelled as the library's constructor arguments."""
    kwargs = {key: value for key, value in resolved.items()
              if key not in ("early_stopping_rounds", "validation_fraction")}
    if kwargs.get("class_weight") == "none":
        kwargs["class_weight"] = None
    if kwargs.get("max_features") == "all":
        kwargs["max_features"] = 1.0
    if model_type == "lightgbm":
        kwargs["verbose"] = -1
    return kwargs


def _run(graph: dict[str, Any], dataset: DatasetRef, options: FitOptions = OPTIONS) -> TrainingResult:
    return run_training(graph, "train", dataset, options, should_stop=lambda: None, on_progress=lambda _: None)


def _direct_metrics(model: Any, dataset: DatasetRef, scaled: bool) -> dict[str, Any]:
    """Fit ``model`` directly on the split scikit-learn gives and compute the metrics."""
    frame = pd.read_csv(dataset.path, float_precision="round_trip")  # the numbers exactly as the engine reads them
    train, test = train_test_split(frame, test_size=0.25, random_state=OPTIONS.random_state, shuffle=True)
    x_train, y_train = train.drop(columns="target"), train["target"]
    x_test, y_test = test.drop(columns="target"), test["target"]
    if scaled:
        scaler = StandardScaler().fit(x_train)
        x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    classify = y_train.nunique() <= 3
    model.fit(x_train, y_train)
    predicted = model.predict(x_test)
    if not classify:
        return {"rmse": skm.root_mean_squared_error(y_test, predicted),
                "mae": skm.mean_absolute_error(y_test, predicted), "r2": skm.r2_score(y_test, predicted)}
    proba = np.asarray(model.predict_proba(x_test), dtype=np.float64)
    binary = y_train.nunique() == 2
    average = "binary" if binary else "macro"
    return {
        "accuracy": skm.accuracy_score(y_test, predicted),
        "f1": skm.f1_score(y_test, predicted, average=average),
        "precision": skm.precision_score(y_test, predicted, average=average),
        "recall": skm.recall_score(y_test, predicted, average=average),
        "roc_auc": skm.roc_auc_score(y_test, proba[:, 1]) if binary else skm.roc_auc_score(
            y_test, proba, multi_class="ovr", average="macro"),
        "log_loss": skm.log_loss(y_test, proba),
        "confusion_matrix": skm.confusion_matrix(y_test, predicted).tolist(),
    }


def _assert_same(engine: dict[str, Any], direct: dict[str, Any]) -> None:
    for key, expected in direct.items():
        if key == "confusion_matrix":
            assert engine[key]["matrix"] == expected
        else:
            assert engine[key] == pytest.approx(expected, abs=1e-9, rel=0), key


def _graph(model_type: str, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    middle = (node("scale", "scale"),) if model_type in SCALED else ()
    return training_graph(model_type, middle=middle, hyperparameters=hyperparameters)


@pytest.mark.filterwarnings("ignore:The y_prob values do not sum to one")
@pytest.mark.parametrize(("model_type", "data"), CASES)
def test_test_metrics_equal_a_direct_fit_on_the_same_split(
    model_type: str, data: str, dataset_files: dict[str, DatasetRef]
) -> None:
    result = _run(_graph(model_type, SMALL.get(model_type, {})), dataset_files[data])

    library = (REGRESSORS if data == "diabetes" else CLASSIFIERS)[model_type]
    model = library(**_library_kwargs(model_type, result.resolved_hyperparameters))
    direct = _direct_metrics(model, dataset_files[data], model_type in SCALED)
    _assert_same(result.metrics["test"], direct)
    # The parity holds with the learning curve recorded and the explain stage run.
    assert (result.learning_curve is not None) == (model_type in CURVED)
    assert result.insights is not None and result.insights["feature_importance"]


@pytest.mark.filterwarnings("ignore:The y_prob values do not sum to one")
@pytest.mark.parametrize(
    ("model_type", "data", "literal"),
    [
        ("logistic_regression", "breast_cancer", {"C": 1.0, "max_iter": 1000, "solver": "lbfgs", "random_state": 7}),
        ("linear_regression", "diabetes", {"fit_intercept": True}),
        ("random_forest", "breast_cancer", {"n_estimators": 100, "max_features": "sqrt", "random_state": 7,
                                            "n_jobs": 2}),
        ("random_forest", "diabetes", {"n_estimators": 100, "max_features": 1.0, "random_state": 7, "n_jobs": 2}),
        ("xgboost", "wine", {"n_estimators": 100, "learning_rate": 0.1, "max_depth": 6, "random_state": 7,
                             "n_jobs": 2}),
        ("lightgbm", "breast_cancer", {"n_estimators": 100, "learning_rate": 0.1, "num_leaves": 31,
                                       "random_state": 7, "n_jobs": 2, "verbose": -1}),
    ],
)
def test_the_real_defaults_equal_a_direct_fit_with_the_documented_defaults(
    model_type: str, data: str, literal: dict[str, Any], dataset_files: dict[str, DatasetRef]
) -> None:
    result = _run(_graph(model_type, {}), dataset_files[data])

    # The direct fit is built from literal arguments, not from the engine's resolution.
    library = (REGRESSORS if data == "diabetes" else CLASSIFIERS)[model_type]
    direct = _direct_metrics(library(**literal), dataset_files[data], model_type in SCALED)
    _assert_same(result.metrics["test"], direct)


def test_a_scaler_after_the_split_is_fitted_on_train_rows_only(dataset_files: dict[str, DatasetRef]) -> None:
    result = _run(_graph("logistic_regression", {}), dataset_files["breast_cancer"])

    frame = pd.read_csv(dataset_files["breast_cancer"].path, float_precision="round_trip")
    train, _ = train_test_split(frame, test_size=0.25, random_state=7)
    features = train.drop(columns="target")
    scale = result.pipeline.steps[0]
    assert isinstance(scale, Scale)
    np.testing.assert_allclose(scale.scaler.mean_, features.mean().to_numpy(), rtol=1e-12)
    assert not np.allclose(scale.scaler.mean_, frame.drop(columns="target").mean().to_numpy(), rtol=1e-6)
    assert result.warnings == []


def test_a_scaler_before_the_split_fits_on_all_rows_and_records_a_leakage_warning(
    dataset_files: dict[str, DatasetRef],
) -> None:
    graph = chain(node("src", "dataset_source"), node("scale", "scale"),
                  node("split", "train_test_split", test_size=0.25),
                  node("train", "train_model", model_type="logistic_regression", target="target"))

    result = _run(graph, dataset_files["breast_cancer"])

    frame = pd.read_csv(dataset_files["breast_cancer"].path, float_precision="round_trip")
    step = result.pipeline.steps[0]
    assert isinstance(step, Scale)
    np.testing.assert_allclose(step.scaler.mean_, frame.drop(columns="target").mean().to_numpy(), rtol=1e-12)
    assert [w["code"] for w in result.warnings] == ["leakage"]
    assert result.warnings[0]["node_id"] == "scale"


def test_resampling_changes_train_rows_only_and_metrics_carry_the_metadata(
    dataset_files: dict[str, DatasetRef],
) -> None:
    graph = training_graph("xgboost", middle=(node("bal", "resample", method="undersample"),),
                           hyperparameters={"n_estimators": 5})

    result = run_training(graph, "train", dataset_files["breast_cancer"], OPTIONS, should_stop=lambda: None,
                          on_progress=lambda _: None, pipeline_hash="abc123")

    frame = pd.read_csv(dataset_files["breast_cancer"].path, float_precision="round_trip")
    train, test = train_test_split(frame, test_size=0.25, random_state=7)
    metrics = result.metrics
    assert metrics["rows"]["test"] == len(test)
    assert metrics["rows"]["train"] == 2 * int(train["target"].value_counts().min())
    assert metrics["features"] == [c for c in frame.columns if c != "target"]
    assert (metrics["target"], metrics["task"], metrics["pipeline_hash"]) == ("target", "classification", "abc123")
    assert metrics["dataset_sha256"] == file_sha256(dataset_files["breast_cancer"].path)
    assert metrics["random_state"] == 7
    assert set(metrics["library_versions"]) >= {"scikit-learn", "xgboost", "lightgbm"}
    assert set(metrics["train"]) == set(metrics["test"]) >= {"accuracy", "f1", "roc_auc", "precision", "recall",
                                                             "log_loss", "confusion_matrix"}
    assert set(result.timings) == {"load_s", "transform_s", "fit_s", "evaluate_s", "explain_s", "total_s"}


def test_rows_without_a_target_are_dropped_with_a_warning(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.arange(40.0), "y": np.r_[np.arange(39.0) * 2.5, np.nan]})
    dataset = write_dataset(frame, tmp_path, "gaps")

    result = _run(training_graph("linear_regression", target="y"), dataset)

    assert result.metrics["rows"]["train"] + result.metrics["rows"]["test"] == 39
    assert "missing_target_dropped" in [w["code"] for w in result.warnings]
    assert result.metrics["test"]["r2"] == pytest.approx(1.0)


def test_a_non_numeric_feature_without_an_encode_node_is_an_invalid_pipeline(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.arange(40.0), "city": ["a", "b"] * 20, "y": [0, 1] * 20})
    dataset = write_dataset(frame, tmp_path, "cats")

    with pytest.raises(InvalidGraph) as caught:
        _run(training_graph("random_forest", target="y"), dataset)

    assert caught.value.details == {"node_id": "train", "column": "city", "columns": ["city"]}
    assert caught.value.field == "graph.nodes[2]"
    assert "encode" in caught.value.message


def test_an_explicit_classification_of_a_measured_target_names_task_node_and_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.arange(40.0), "y": np.arange(40.0) * 0.37})
    dataset = write_dataset(frame, tmp_path, "measured")

    with pytest.raises(InvalidNodeConfig) as caught:
        _run(training_graph("logistic_regression", target="y", task="classification"), dataset)

    assert caught.value.field == "config.task"
    assert caught.value.details == {"column": "y", "node_id": "train"}
    assert "non-integer" in caught.value.message


def test_a_library_error_in_a_step_names_the_node(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [np.inf, *np.arange(39.0)], "y": [0, 1] * 20})
    dataset = write_dataset(frame, tmp_path, "infinite")

    with pytest.raises(ModelError) as caught:
        _run(training_graph("logistic_regression", target="y", middle=(node("sc", "scale"),)), dataset)

    assert caught.value.details["node_id"] == "sc"
    assert caught.value.field == "graph.nodes[2].data.config"
    assert "'sc'" in caught.value.message


def test_an_unknown_column_is_reported_once_the_dataset_is_read(dataset_files: dict[str, DatasetRef]) -> None:
    graph = training_graph("xgboost", middle=(node("s", "scale", columns=["mean radius", "radius"]),))

    with pytest.raises(InvalidNodeConfig) as caught:
        _run(graph, dataset_files["breast_cancer"])

    assert caught.value.field == "graph.nodes[2].data.config.columns"
