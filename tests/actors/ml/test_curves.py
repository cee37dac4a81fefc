"""Learning curves: what each family records, and the downsampled copy that is stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

from actors.ml.curves import MAX_STORED_POINTS, CurveLog, downsample
from actors.ml.estimators import estimator_kwargs
from actors.ml.fit import TrainingResult, run_training
from actors.ml.fit_curves import CURVE_EVERY_ROUND_ROWS
from actors.ml.options import DatasetRef, FitOptions
from tests.actors.fit_helpers import training_graph, write_dataset

OPTIONS = FitOptions(n_jobs=2, random_state=7, explain=False)


def _run(model_type: str, dataset: DatasetRef, options: FitOptions = OPTIONS, **hyperparameters: object
         ) -> TrainingResult:
    return run_training(training_graph(model_type, hyperparameters=hyperparameters), "train", dataset, options,
                        should_stop=lambda: None, on_progress=lambda _: None)


def test_downsampling_keeps_at_most_the_limit_with_the_first_and_last_points() -> None:
    points: list[list[float | None]] = [[float(i), float(i * i)] for i in range(1, 2001)]

    kept = downsample(points, MAX_STORED_POINTS)

    assert len(kept) == MAX_STORED_POINTS
    assert kept[0] == points[0] and kept[-1] == points[-1]
    assert [p[0] for p in kept] == sorted({p[0] for p in kept})
    assert downsample(points[:10]) == points[:10]


def test_a_curve_log_hands_out_deltas_from_an_offset_and_a_stored_snapshot() -> None:
    log = CurveLog()
    assert log.snapshot() is None and log.delta(0) is None
    log.start("round", [("train", "rmse"), ("test", "rmse")])
    for step in range(1, 801):
        log.add(step, [1.0 / step, float("nan") if step == 3 else 2.0 / step])

    delta = log.delta(795)
    snapshot = log.snapshot()

    assert delta is not None and delta["offset"] == 795 and delta["count"] == 800
    assert [p[0] for p in delta["points"]] == [796, 797, 798, 799, 800]
    assert snapshot is not None and len(snapshot["points"]) == MAX_STORED_POINTS and snapshot["count"] == 800
    assert snapshot["series"] == [{"partition": "train", "metric": "rmse"}, {"partition": "test", "metric": "rmse"}]
    assert log.delta(800) is None
    assert log.delta(2) is not None and log.delta(2)["points"][0] == [3, 1 / 3, None]  # type: ignore[index]
    with pytest.raises(ValueError, match="needs 2 values"):
        log.add(801, [1.0])


@pytest.mark.filterwarnings("ignore:The y_prob values do not sum to one")
@pytest.mark.parametrize("model_type", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("data", ["breast_cancer", "wine"])
def test_a_boosting_curve_has_one_point_per_round_ending_at_the_evaluated_metrics(
    model_type: str, data: str, dataset_files: dict[str, DatasetRef]
) -> None:
    result = _run(model_type, dataset_files[data], n_estimators=40)

    curve = result.learning_curve
    assert curve is not None and curve["unit"] == "round"
    assert [p[0] for p in curve["points"]] == list(range(1, 41))
    last = dict(zip([f"{s['partition']}.{s['metric']}" for s in curve["series"]], curve["points"][-1][1:],
                    strict=True))
    for partition in ("train", "test"):
        scores = result.metrics[partition]
        # The libraries compute their evaluation in float32.
        assert last[f"{partition}.log_loss"] == pytest.approx(scores["log_loss"], rel=1e-4, abs=1e-5)
        assert last[f"{partition}.accuracy"] == pytest.approx(scores["accuracy"], abs=1e-9)


@pytest.mark.parametrize("model_type", ["xgboost", "lightgbm", "random_forest"])
def test_a_regression_curve_reports_rmse_and_the_r2_it_implies(
    model_type: str, dataset_files: dict[str, DatasetRef]
) -> None:
    result = _run(model_type, dataset_files["diabetes"], n_estimators=30)

    curve = result.learning_curve
    assert curve is not None
    last = dict(zip([f"{s['partition']}.{s['metric']}" for s in curve["series"]], curve["points"][-1][1:],
                    strict=True))
    assert curve["points"][-1][0] == 30
    assert last["test.rmse"] == pytest.approx(result.metrics["test"]["rmse"], rel=1e-4)
    assert last["test.r2"] == pytest.approx(result.metrics["test"]["r2"], rel=1e-3)


def test_a_forest_curve_scores_the_held_out_rows_after_each_batch(dataset_files: dict[str, DatasetRef]) -> None:
    result = _run("random_forest", dataset_files["breast_cancer"], n_estimators=60)

    curve = result.learning_curve
    assert curve is not None and curve["unit"] == "trees"
    assert curve["series"] == [{"partition": "test", "metric": "log_loss"}, {"partition": "test", "metric": "accuracy"}]
    steps = [p[0] for p in curve["points"]]
    assert steps == sorted(steps) and steps[-1] == 60
    assert curve["points"][-1][1] == pytest.approx(result.metrics["test"]["log_loss"], abs=1e-9)
    assert curve["points"][-1][2] == pytest.approx(result.metrics["test"]["accuracy"], abs=1e-9)


def test_linear_models_and_curves_off_record_no_curve(dataset_files: dict[str, DatasetRef]) -> None:
    assert _run("logistic_regression", dataset_files["breast_cancer"]).learning_curve is None
    off = FitOptions(n_jobs=2, random_state=7, explain=False, curves=False)
    assert _run("xgboost", dataset_files["breast_cancer"], off, n_estimators=5).learning_curve is None


def test_a_long_fit_stores_at_most_500_points(dataset_files: dict[str, DatasetRef]) -> None:
    rounds = MAX_STORED_POINTS + 100  # a fifth more rounds than points is enough to need the cap
    result = _run("lightgbm", dataset_files["diabetes"], n_estimators=rounds, learning_rate=0.01, num_leaves=4)

    curve = result.learning_curve
    assert curve is not None and curve["count"] == rounds
    assert len(curve["points"]) == MAX_STORED_POINTS
    assert curve["points"][0][0] == 1 and curve["points"][-1][0] == rounds


def test_a_large_xgboost_fit_scores_some_rounds_ending_at_the_last_and_equals_a_direct_fit(
    tmp_path: Path,
) -> None:
    # Over CURVE_EVERY_ROUND_ROWS evaluated rows the curve scores the rounds its time share allows.
    x, y = make_classification(n_samples=CURVE_EVERY_ROUND_ROWS + 5_000, n_features=6, random_state=3)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(6)]).assign(target=y)
    dataset = write_dataset(frame, tmp_path, "large", fmt="parquet")

    result = _run("xgboost", dataset, n_estimators=60, max_depth=3)

    curve = result.learning_curve
    assert curve is not None
    steps = [p[0] for p in curve["points"]]
    assert steps[0] == 1 and steps[-1] == 60 and steps == sorted(set(steps))
    last = dict(zip([f"{s['partition']}.{s['metric']}" for s in curve["series"]], curve["points"][-1][1:],
                    strict=True))
    for partition in ("train", "test"):
        assert last[f"{partition}.log_loss"] == pytest.approx(result.metrics[partition]["log_loss"], rel=1e-4)
        assert last[f"{partition}.accuracy"] == pytest.approx(result.metrics[partition]["accuracy"], abs=1e-9)
    train, test = train_test_split(frame, test_size=0.25, random_state=OPTIONS.random_state, shuffle=True)
    direct = xgboost.XGBClassifier(**estimator_kwargs("xgboost", result.resolved_hyperparameters))
    direct.fit(train.drop(columns="target"), train["target"])
    engine_model = result.pipeline.model
    features = test.drop(columns="target").to_numpy(dtype=np.float64)
    np.testing.assert_allclose(engine_model.predict_proba(features), direct.predict_proba(features), rtol=0, atol=1e-9)
