"""Early stopping decides on validation rows carved from the train partition, never on test rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from actors.errors import InvalidHyperparameter, InvalidNodeConfig
from actors.ml.fit import TrainingResult, run_training
from actors.ml.holdout import carve_validation
from actors.ml.options import DatasetRef, FitOptions
from tests.actors.fit_helpers import training_graph, write_dataset

OPTIONS = FitOptions(n_jobs=2, random_state=7, explain=False)
BOOSTING = ("xgboost", "lightgbm")


def _run(dataset: DatasetRef, model_type: str, **hyperparameters: Any) -> TrainingResult:
    graph = training_graph(model_type, hyperparameters={"n_estimators": 200, "learning_rate": 0.3, **hyperparameters})
    return run_training(graph, "train", dataset, OPTIONS, should_stop=lambda: None, on_progress=lambda _: None)


def _poisoned(frame: pd.DataFrame, directory: Path, classify: bool) -> DatasetRef:
    """The same file with every test row's features and target replaced by nonsense."""
    _, test = train_test_split(frame, test_size=0.25, random_state=OPTIONS.random_state, shuffle=True)
    poisoned = frame.copy()
    features = [c for c in frame.columns if c != "target"]
    rng = np.random.default_rng(0)
    poisoned.loc[test.index, features] = rng.normal(0, 1e6, size=(len(test), len(features)))
    target = frame.loc[test.index, "target"]
    poisoned.loc[test.index, "target"] = (1 - target) if classify else -target * 100
    return write_dataset(poisoned, directory, "poisoned")


@pytest.mark.parametrize("model_type", BOOSTING)
@pytest.mark.parametrize("data", ["breast_cancer", "diabetes"])
def test_poisoning_the_test_rows_leaves_the_stopping_round_and_validation_curve_unchanged(
    model_type: str, data: str, sklearn_frames: dict[str, pd.DataFrame], dataset_files: dict[str, DatasetRef],
    tmp_path: Path,
) -> None:
    clean = _run(dataset_files[data], model_type, early_stopping_rounds=5)
    poisoned = _run(_poisoned(sklearn_frames[data], tmp_path, data == "breast_cancer"), model_type,
                    early_stopping_rounds=5)

    stopping = clean.metrics["early_stopping"]
    assert stopping["best_iteration"] is not None and stopping["best_iteration"] < 200  # it did stop early
    assert poisoned.metrics["early_stopping"] == stopping
    assert clean.learning_curve is not None and poisoned.learning_curve is not None
    assert poisoned.learning_curve["points"] == clean.learning_curve["points"]
    assert [s["partition"] for s in clean.learning_curve["series"]] == ["train", "train", "validation", "validation"]
    assert clean.learning_curve["best_step"] == stopping["best_iteration"]
    # The poison is real: the test metrics differ wildly.
    assert poisoned.metrics["test"] != clean.metrics["test"]


@pytest.mark.parametrize("model_type", BOOSTING)
def test_the_validation_rows_are_a_seeded_share_of_the_train_rows(
    model_type: str, dataset_files: dict[str, DatasetRef]
) -> None:
    result = _run(dataset_files["wine"], model_type, early_stopping_rounds=3, validation_fraction=0.2)

    stopping = result.metrics["early_stopping"]
    train_rows = result.metrics["rows"]["train"]
    assert stopping["validation_rows"] == int(np.ceil(0.2 * train_rows))
    assert stopping["fit_rows"] + stopping["validation_rows"] == train_rows
    assert stopping["seed"] == OPTIONS.random_state
    assert result.resolved_hyperparameters["validation_fraction"] == 0.2


def test_the_carve_is_seeded_disjoint_and_stratified() -> None:
    x = np.arange(200, dtype=np.float64).reshape(100, 2)
    y = np.array([0] * 80 + [1] * 20)
    (x_fit, y_fit), (x_val, y_val) = carve_validation(x, y, 0.1, 3, classify=True)
    again = carve_validation(x, y, 0.1, 3, classify=True)

    assert np.array_equal(again[1][0], x_val)
    assert len(y_val) == 10 and int(y_val.sum()) == 2  # the class balance is kept
    assert not set(x_fit[:, 0]) & set(x_val[:, 0])
    assert len(y_fit) + len(y_val) == 100


def test_early_stopping_is_off_by_default_and_the_fit_uses_every_train_row(
    dataset_files: dict[str, DatasetRef]
) -> None:
    result = _run(dataset_files["breast_cancer"], "xgboost")

    assert "early_stopping" not in result.metrics
    assert result.resolved_hyperparameters["early_stopping_rounds"] is None
    assert result.learning_curve is not None and len(result.learning_curve["points"]) == 200
    assert [s["partition"] for s in result.learning_curve["series"]] == ["train", "train", "test", "test"]


@pytest.mark.parametrize(
    ("hyperparameters", "field"),
    [({"early_stopping_rounds": 0}, "hyperparameters.early_stopping_rounds"),
     ({"validation_fraction": 1.0}, "hyperparameters.validation_fraction"),
     ({"validation_fraction": 0}, "hyperparameters.validation_fraction")],
)
def test_bad_early_stopping_settings_are_rejected_naming_the_field(
    hyperparameters: dict[str, Any], field: str, dataset_files: dict[str, DatasetRef]
) -> None:
    with pytest.raises(InvalidHyperparameter) as caught:
        _run(dataset_files["breast_cancer"], "lightgbm", **{"early_stopping_rounds": 5, **hyperparameters})
    assert caught.value.field == field


def test_a_validation_share_too_small_for_the_classes_is_rejected(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": np.arange(40.0), "target": [0] * 37 + [1] * 3})
    dataset = write_dataset(frame, tmp_path, "tiny")
    with pytest.raises(InvalidNodeConfig) as caught:
        _run(dataset, "xgboost", early_stopping_rounds=2, validation_fraction=0.9)
    assert caught.value.field == "hyperparameters.validation_fraction"
