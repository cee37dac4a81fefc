"""Cooperative stops inside fits, and the random forest's batched fit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from actors.errors import DeadlineExceeded, JobCancelled
from actors.ml.checkpoints import Checkpoint
from actors.ml.estimators import RF_MAX_BATCH, build_estimator, fit_estimator, next_forest_batch
from actors.ml.families import resolve_hyperparameters
from actors.ml.fit import run_training
from actors.ml.options import DatasetRef, FitOptions
from tests.actors.fit_helpers import training_graph


class StopAfter:
    """should_stop/on_progress pair that asks to stop once ``rounds`` fit units are done."""

    def __init__(self, units: int, reason: str = "cancelled") -> None:
        self.units = units
        self.reason = reason
        self.events: list[dict[str, Any]] = []

    def on_progress(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def should_stop(self) -> str | None:
        done = max((e["completed"] for e in self.events if e["stage"] == "fit"), default=0)
        return self.reason if done >= self.units else None

    def fitted_units(self) -> int:
        return max(e["completed"] for e in self.events if e["stage"] == "fit")


def _data(sklearn_frames: dict[str, pd.DataFrame]) -> tuple[np.ndarray, np.ndarray]:
    frame = sklearn_frames["breast_cancer"]
    return frame.drop(columns="target").to_numpy(dtype=np.float64), frame["target"].to_numpy()


@pytest.mark.parametrize(("model_type", "stop_at", "expected"), [
    ("xgboost", 5, 5), ("lightgbm", 5, 5), ("random_forest", 1, 1),
])
def test_should_stop_firing_mid_fit_stops_within_one_round_or_batch(
    model_type: str, stop_at: int, expected: int, sklearn_frames: dict[str, pd.DataFrame]
) -> None:
    x, y = _data(sklearn_frames)
    resolved = resolve_hyperparameters(model_type, {"n_estimators": 100}, "classification", random_state=0, n_jobs=1)
    estimator = build_estimator(model_type, "classification", resolved)
    stopper = StopAfter(stop_at)

    with pytest.raises(JobCancelled) as caught:
        fit_estimator(model_type, estimator, x, y, Checkpoint(stopper.should_stop, stopper.on_progress))

    assert stopper.fitted_units() == expected
    assert caught.value.code == "cancelled"


def test_a_deadline_inside_a_boosting_fit_raises_deadline_exceeded(sklearn_frames: dict[str, pd.DataFrame]) -> None:
    x, y = _data(sklearn_frames)
    resolved = resolve_hyperparameters("lightgbm", {}, "classification", random_state=0, n_jobs=1)
    stopper = StopAfter(3, reason="timeout")

    with pytest.raises(DeadlineExceeded) as caught:
        fit_estimator("lightgbm", build_estimator("lightgbm", "classification", resolved), x, y,
                      Checkpoint(stopper.should_stop, stopper.on_progress))

    assert caught.value.code == "timeout"
    assert stopper.fitted_units() == 3


def test_the_batched_forest_equals_a_one_shot_fit_with_the_same_seed(sklearn_frames: dict[str, pd.DataFrame]) -> None:
    x, y = _data(sklearn_frames)
    resolved = resolve_hyperparameters("random_forest", {"n_estimators": 23}, "classification", random_state=3,
                                       n_jobs=2)
    batched = build_estimator("random_forest", "classification", resolved)
    progress: list[dict[str, Any]] = []

    fit_estimator("random_forest", batched, x, y, Checkpoint(None, progress.append))

    one_shot = RandomForestClassifier(n_estimators=23, random_state=3, n_jobs=2).fit(x, y)
    completed = [e["completed"] for e in progress]
    assert completed[0] == 2  # one tree per thread (n_jobs=2)
    assert completed == sorted(completed)
    assert completed[-1] == 23
    assert len(batched.estimators_) == 23
    assert batched.get_params()["warm_start"] is False
    np.testing.assert_array_equal(batched.predict_proba(x), one_shot.predict_proba(x))


def test_a_boosting_fit_leaves_no_callback_on_the_estimator(sklearn_frames: dict[str, pd.DataFrame]) -> None:
    x, y = _data(sklearn_frames)
    resolved = resolve_hyperparameters("xgboost", {"n_estimators": 3}, "classification", random_state=0, n_jobs=1)
    estimator = build_estimator("xgboost", "classification", resolved)

    fit_estimator("xgboost", estimator, x, y, Checkpoint(lambda: None, lambda _: None))

    assert estimator.get_params()["callbacks"] is None


def test_a_job_cancelled_during_the_fit_reports_progress_then_raises(dataset_files: dict[str, DatasetRef]) -> None:
    stopper = StopAfter(4)
    graph = training_graph("xgboost", hyperparameters={"n_estimators": 50})

    with pytest.raises(JobCancelled):
        run_training(graph, "train", dataset_files["wine"], FitOptions(), should_stop=stopper.should_stop,
                     on_progress=stopper.on_progress)

    stages = [e["stage"] for e in stopper.events]
    assert stages[:2] == ["load", "load"]
    assert "transform" in stages
    assert stopper.fitted_units() == 4
    assert {"stage": "fit", "completed": 4, "total": 50, "unit": "rounds"} in stopper.events


def test_a_stop_requested_before_start_loads_nothing(dataset_files: dict[str, DatasetRef]) -> None:
    events: list[dict[str, Any]] = []

    with pytest.raises(DeadlineExceeded):
        run_training(training_graph("lightgbm"), "train", dataset_files["wine"], FitOptions(),
                     should_stop=lambda: "timeout", on_progress=events.append)

    assert events == []


def test_a_linear_model_is_checked_before_and_after_its_fit(sklearn_frames: dict[str, pd.DataFrame]) -> None:
    x, y = _data(sklearn_frames)
    calls: list[str] = []

    def should_stop() -> str | None:
        calls.append("check")
        return "cancelled" if len(calls) == 2 else None

    estimator = build_estimator("linear_regression", "regression", {"fit_intercept": True, "positive": False})
    with pytest.raises(JobCancelled):
        fit_estimator("linear_regression", estimator, x, y.astype(float), Checkpoint(should_stop, None))

    assert hasattr(estimator, "coef_")


def test_a_large_forest_still_stops_within_one_batch(sklearn_frames: dict[str, pd.DataFrame]) -> None:
    x, y = _data(sklearn_frames)
    resolved = resolve_hyperparameters("random_forest", {"n_estimators": 5000}, "classification", random_state=0,
                                       n_jobs=1)
    stopper = StopAfter(11)

    with pytest.raises(JobCancelled):
        fit_estimator("random_forest", build_estimator("random_forest", "classification", resolved), x, y,
                      Checkpoint(stopper.should_stop, stopper.on_progress))

    completed = [e["completed"] for e in stopper.events if e["stage"] == "fit"]
    before_stop = max(c for c in completed if c < 11)
    assert 11 <= stopper.fitted_units() <= before_stop + RF_MAX_BATCH
    assert stopper.fitted_units() < 5000


def test_forest_batches_start_with_one_tree_then_follow_the_time_per_tree() -> None:
    assert next_forest_batch(0, 100, None) == 1
    assert next_forest_batch(1, 100, 0.01) == 10  # about 0.1 s of trees
    assert next_forest_batch(1, 100, 0.5) == 1  # slow trees: one at a time
    assert next_forest_batch(1, 100, 1e-6) == RF_MAX_BATCH
    assert next_forest_batch(95, 100, 0.001) == 5  # never past the total
    assert next_forest_batch(0, 100, None, parallel=4) == 4  # one tree per thread
    assert next_forest_batch(4, 100, 0.5, parallel=4) == 4
    assert next_forest_batch(4, 100, 0.03, parallel=4) == 4  # 3 trees' worth, rounded up to the threads
    assert next_forest_batch(4, 100, 0.014, parallel=4) == 8
