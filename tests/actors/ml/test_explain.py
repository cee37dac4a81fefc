"""The explain stage: importance as the libraries and scikit-learn define it, curves, bounds."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance
from sklearn.model_selection import train_test_split

from actors.errors import JobCancelled
from actors.ml.checkpoints import Checkpoint
from actors.ml.estimators import build_estimator
from actors.ml.explain import ExplainInputs, ExplainLimits, explain_model, sample_rows
from actors.ml.families import CLASSIFICATION, REGRESSION, resolve_hyperparameters
from actors.ml.fit import run_training
from actors.ml.importance import shap_contributions
from actors.ml.options import DatasetRef, FitOptions
from tests.actors.fit_helpers import training_graph

CASES = [("logistic_regression", "breast_cancer"), ("random_forest", "wine"), ("xgboost", "wine"),
         ("lightgbm", "breast_cancer"), ("linear_regression", "diabetes"), ("random_forest", "diabetes"),
         ("xgboost", "diabetes"), ("lightgbm", "diabetes")]
SMALL = {"n_estimators": 20}


def _fitted(model_type: str, frame: pd.DataFrame, **extra: Any) -> tuple[Any, ExplainInputs]:
    task = REGRESSION if frame["target"].nunique() > 10 else CLASSIFICATION
    train, test = train_test_split(frame, test_size=0.3, random_state=5)
    x_train = train.drop(columns="target").to_numpy(dtype=np.float64)
    x_test = test.drop(columns="target").to_numpy(dtype=np.float64)
    raw = {} if model_type in ("logistic_regression", "linear_regression") else dict(SMALL)
    if model_type == "logistic_regression":
        raw["max_iter"] = 5000
    model = build_estimator(model_type, task, resolve_hyperparameters(model_type, {**raw, **extra}, task,
                                                                       random_state=3, n_jobs=1))
    y_train = train["target"].to_numpy()
    classes = np.unique(y_train) if task == CLASSIFICATION else None
    model.fit(x_train, y_train if classes is None else np.searchsorted(classes, y_train))
    features = [c for c in frame.columns if c != "target"]
    return model, ExplainInputs(model_type, model, features, classes, x_test, test["target"].to_numpy(), 11)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(("model_type", "data"), CASES)
def test_permutation_importance_equals_scikit_learns_on_the_same_sample_and_seed(
    model_type: str, data: str, sklearn_frames: dict[str, pd.DataFrame]
) -> None:
    model, inputs = _fitted(model_type, sklearn_frames[data])
    limits = ExplainLimits(rows=40, budget_s=600.0, repeats=3)

    insights = explain_model(inputs, limits, Checkpoint())

    rows = sample_rows(len(inputs.y_test), limits.rows, inputs.random_state)
    y = inputs.y_test if inputs.classes is None else np.searchsorted(inputs.classes, inputs.y_test)
    expected = permutation_importance(model, inputs.x_test[rows], y[rows], n_repeats=3,
                                      random_state=inputs.random_state)
    found = {row["feature"]: row for row in insights["feature_importance"]}
    assert [found[name]["permutation_mean"] for name in inputs.features] == pytest.approx(
        expected.importances_mean.tolist(), abs=1e-12, rel=0)
    assert [found[name]["permutation_std"] for name in inputs.features] == pytest.approx(
        expected.importances_std.tolist(), abs=1e-12, rel=0)
    assert insights["explain"]["complete"] and insights["explain"]["rows"] == 40


@pytest.mark.parametrize(("model_type", "data", "extra"), [
    (family, data, extra) for family, data, extra in itertools.product(
        ("xgboost", "lightgbm"), ("breast_cancer", "wine", "diabetes"), ({}, {"max_depth": 3}))
])
def test_shap_values_sum_to_the_models_margin_output(
    model_type: str, data: str, extra: dict[str, Any], sklearn_frames: dict[str, pd.DataFrame]
) -> None:
    model, inputs = _fitted(model_type, sklearn_frames[data], **extra)

    contributions, margin = shap_contributions(model_type, model, inputs.x_test)

    # The margin as the library's own estimator API reports it.
    library_margin = (model.predict(inputs.x_test, output_margin=True) if model_type == "xgboost"
                      else model.predict(inputs.x_test, raw_score=True))
    assert np.allclose(margin, library_margin, rtol=0, atol=1e-6)
    assert contributions.shape[-1] == len(inputs.features) + 1
    assert np.allclose(contributions.sum(axis=-1), library_margin, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("data", ["breast_cancer", "wine"])
def test_chunked_shap_equals_mean_abs_shap_over_every_sampled_row(
    data: str, sklearn_frames: dict[str, pd.DataFrame]
) -> None:
    model, inputs = _fitted("xgboost", sklearn_frames[data])

    insights = explain_model(inputs, ExplainLimits(rows=40, budget_s=600.0, repeats=1), Checkpoint())

    rows = sample_rows(len(inputs.y_test), 40, inputs.random_state)
    contributions, _ = shap_contributions("xgboost", model, inputs.x_test[rows])
    expected = np.abs(contributions[..., :-1]).reshape(-1, len(inputs.features)).mean(axis=0)
    found = {row["feature"]: row["shap_mean_abs"] for row in insights["feature_importance"]}
    assert [found[name] for name in inputs.features] == pytest.approx(expected.tolist(), rel=1e-9, abs=1e-12)
    assert insights["explain"]["shap_rows"] == 40


def test_the_time_budget_skips_the_costly_parts_and_says_so(sklearn_frames: dict[str, pd.DataFrame]) -> None:
    _, inputs = _fitted("xgboost", sklearn_frames["breast_cancer"])
    steps: list[int] = []

    def clock() -> float:
        # Time runs out once the third feature's permutation is about to start (step 3 + 2).
        return 1e9 if steps and steps[-1] >= 5 else 0.0

    insights = explain_model(inputs, ExplainLimits(rows=50, budget_s=10.0, repeats=2),
                             Checkpoint(on_progress=lambda p: steps.append(p["completed"])), clock=clock)

    explain = insights["explain"]
    assert not explain["complete"]
    assert explain["skipped"] == ["permutation_importance (partial)"]
    assert explain["permutation_features"] == 2 and explain["shap_rows"] == 50
    done = [row for row in insights["feature_importance"] if row["permutation_mean"] is not None]
    assert len(done) == 2
    assert all(row["gain"] is not None and row["shap_mean_abs"] is not None for row in insights["feature_importance"])


def test_shap_stops_between_chunks_when_the_budget_runs_out(sklearn_frames: dict[str, pd.DataFrame]) -> None:
    _, inputs = _fitted("lightgbm", sklearn_frames["breast_cancer"])
    ticks = itertools.count()

    insights = explain_model(inputs, ExplainLimits(rows=100, budget_s=6.5, repeats=2), Checkpoint(),
                             clock=lambda: float(next(ticks)))

    explain = insights["explain"]
    assert 0 < explain["shap_rows"] < 100
    assert explain["skipped"] == ["shap (partial)", "permutation_importance"]


def test_an_exhausted_budget_still_returns_a_valid_record(sklearn_frames: dict[str, pd.DataFrame]) -> None:
    _, inputs = _fitted("lightgbm", sklearn_frames["diabetes"])
    ticks = itertools.count(step=100)

    insights = explain_model(inputs, ExplainLimits(budget_s=1.0), Checkpoint(), clock=lambda: float(next(ticks)))

    assert insights["explain"]["skipped"] == ["library_importance", "diagnostics", "shap", "permutation_importance"]
    assert "residuals" not in insights


def test_a_cancel_during_the_explain_stage_stops_the_job(dataset_files: dict[str, DatasetRef]) -> None:
    seen: list[dict[str, Any]] = []

    def should_stop() -> str | None:
        return "cancelled" if any(p["stage"] == "explain" for p in seen) else None

    with pytest.raises(JobCancelled) as caught:
        run_training(training_graph("random_forest", hyperparameters=SMALL), "train", dataset_files["wine"],
                     FitOptions(), should_stop=should_stop, on_progress=seen.append)

    assert str(caught.value.details["checkpoint"]).startswith("explain")
    explain_steps = [p for p in seen if p["stage"] == "explain"]
    assert len(explain_steps) == 1 and explain_steps[0]["unit"] == "steps"


def test_a_job_with_a_tiny_budget_succeeds_with_what_fit_in_it(dataset_files: dict[str, DatasetRef]) -> None:
    result = run_training(training_graph("xgboost", hyperparameters=SMALL), "train", dataset_files["wine"],
                          FitOptions(explain_budget_s=1e-9), should_stop=lambda: None, on_progress=lambda _: None)

    assert result.insights is not None
    assert "permutation_importance" in result.insights["explain"]["skipped"]
    assert result.metrics["test"]["accuracy"] > 0.5


def test_classification_insights_have_one_curve_per_class_and_the_confusion_matrix(
    dataset_files: dict[str, DatasetRef]
) -> None:
    result = run_training(training_graph("lightgbm", hyperparameters=SMALL), "train", dataset_files["wine"],
                          FitOptions(), should_stop=lambda: None, on_progress=lambda _: None)

    insights = result.insights
    assert insights is not None
    assert insights["roc"]["scheme"] == "one_vs_rest"
    assert [curve["label"] for curve in insights["roc"]["curves"]] == [0, 1, 2]
    for curve in insights["roc"]["curves"]:
        assert curve["points"][0] == [0.0, 0.0] and curve["points"][-1] == [1.0, 1.0]
        assert 0.5 < curve["auc"] <= 1.0
    assert len(insights["pr"]["curves"]) == 3 and len(insights["calibration"]["curves"]) == 3
    for curve in insights["calibration"]["curves"]:
        assert len(curve["counts"]) == len(curve["points"])
    assert insights["confusion_matrix"] == result.metrics["test"]["confusion_matrix"]
    assert "residuals" not in insights


def test_regression_insights_have_residuals_and_error_by_decile(dataset_files: dict[str, DatasetRef]) -> None:
    result = run_training(training_graph("linear_regression"), "train", dataset_files["diabetes"],
                          FitOptions(), should_stop=lambda: None, on_progress=lambda _: None)

    insights = result.insights
    assert insights is not None and not {"roc", "pr", "calibration"} & set(insights)
    residuals = insights["residuals"]
    test_rows = result.metrics["rows"]["test"]
    assert residuals["rows"] == len(residuals["points"]) == test_rows
    assert [d["decile"] for d in residuals["by_decile"]] == list(range(1, 11))
    assert sum(d["count"] for d in residuals["by_decile"]) == test_rows
    actual, predicted, residual = residuals["points"][0]
    assert residual == pytest.approx(actual - predicted)
    kinds = {key for row in insights["feature_importance"] for key in row}
    assert {"coefficient", "permutation_mean"} <= kinds and "shap_mean_abs" not in kinds
