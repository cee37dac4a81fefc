"""The counted metrics equal scikit-learn's own, whatever the labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

from actors.ml.metrics import classification_metrics, detect_task


def _proba(rng: np.random.Generator, n: int, k: int) -> NDArray[np.float64]:
    raw = rng.random((n, k))
    return raw / raw.sum(axis=1, keepdims=True)


def _expected(y_true: NDArray[object], y_pred: NDArray[object], classes: NDArray[object]) -> dict[str, float]:
    binary = len(classes) == 2
    average = {"average": "binary", "pos_label": classes[1]} if binary else {"average": "macro"}
    return {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "f1": skm.f1_score(y_true, y_pred, zero_division=0, **average),
        "precision": skm.precision_score(y_true, y_pred, zero_division=0, **average),
        "recall": skm.recall_score(y_true, y_pred, zero_division=0, **average),
    }


@pytest.mark.parametrize(
    ("classes", "drop_from_predictions"),
    [
        (np.array([0, 1]), None),
        (np.array(["no", "yes"], dtype=object), None),
        (np.array([3, 7, 11]), None),
        (np.array(["a", "b", "c", "d"], dtype=object), "c"),  # a class never predicted
        (np.array([0, 1]), 1),  # binary with no positive prediction: zero division
    ],
)
def test_counted_metrics_equal_scikit_learns(classes: NDArray[object], drop_from_predictions: object) -> None:
    rng = np.random.default_rng(5)
    y_true = classes[rng.integers(0, len(classes), 5000)]
    y_pred = classes[rng.integers(0, len(classes), 5000)]
    if drop_from_predictions is not None:
        y_pred = np.where(y_pred == drop_from_predictions, classes[0], y_pred)
    result, _ = classification_metrics(y_true, y_pred, _proba(rng, 5000, len(classes)), classes)
    for name, value in _expected(y_true, y_pred, classes).items():
        assert result[name] == pytest.approx(value, abs=1e-12), name
    expected_matrix = skm.confusion_matrix(y_true, y_pred, labels=classes).tolist()
    assert result["confusion_matrix"]["matrix"] == expected_matrix


def test_a_label_outside_the_classes_falls_back_to_scikit_learn() -> None:
    classes = np.array([0, 1])
    y_true = np.array([0, 1, 2, 1, 0])
    y_pred = np.array([0, 1, 1, 1, 0])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7], [0.6, 0.4]])
    result, _ = classification_metrics(y_true, y_pred, proba, classes)
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))


@pytest.mark.parametrize("classes", [np.array([0, 1]), np.array(["no", "yes"], dtype=object), np.array([3, 7, 11, 12])])
@pytest.mark.parametrize("tied", [False, True], ids=["distinct-scores", "tied-scores"])
def test_roc_auc_and_log_loss_equal_scikit_learns(classes: NDArray[object], tied: bool) -> None:
    rng = np.random.default_rng(9)
    n = 20_000
    y_true = classes[rng.integers(0, len(classes), n)]
    proba = _proba(rng, n, len(classes))
    if tied:  # tree ensembles give many rows the same score; ties count one half in the area
        proba = np.round(proba, 2)
        proba = proba / proba.sum(axis=1, keepdims=True)
    result, problems = classification_metrics(y_true, y_true, proba, classes)
    binary = len(classes) == 2
    expected_auc = skm.roc_auc_score(y_true, proba[:, 1]) if binary else skm.roc_auc_score(
        y_true, proba, multi_class="ovr", average="macro", labels=classes)
    assert problems == []
    assert result["roc_auc"] == pytest.approx(expected_auc, abs=1e-12)
    assert result["log_loss"] == pytest.approx(skm.log_loss(y_true, proba, labels=classes), abs=1e-12)


def test_log_loss_clips_certain_wrong_predictions_as_scikit_learn_does() -> None:
    classes = np.array([0, 1])
    y_true = np.array([0, 1, 1, 0])
    proba = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    result, _ = classification_metrics(y_true, np.array([0, 0, 1, 0]), proba, classes)
    assert result["log_loss"] == pytest.approx(skm.log_loss(y_true, proba, labels=classes), rel=1e-12)


def test_a_class_missing_from_the_truth_leaves_roc_auc_undefined_as_scikit_learn_says() -> None:
    classes = np.array([0, 1, 2])
    y_true = np.array([0, 1, 1, 0, 1])
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.5, 0.3], [0.6, 0.3, 0.1], [0.3, 0.4, 0.3]])
    with pytest.warns(UndefinedMetricWarning, match="Only one class"):
        result, _ = classification_metrics(y_true, y_true, proba, classes)
    assert result["roc_auc"] is None
    assert result["log_loss"] == pytest.approx(skm.log_loss(y_true, proba, labels=classes), rel=1e-12)


@pytest.mark.parametrize(
    ("values", "task", "reason"),
    [
        ([0.5, 1.25, 2.0, np.nan], "regression", "non-integer values"),
        ([0, 1, 2, 1, np.nan], "classification", "3 distinct integer values"),
        (list(range(50)), "regression", "50 distinct integer values"),
        (["yes", "no", "yes"], "classification", "not numeric"),
        ([True, False, True], "classification", "not numeric"),
    ],
)
def test_the_task_is_detected_from_the_target_and_the_reason_says_why(
    values: list[object], task: str, reason: str
) -> None:
    detected, why = detect_task(pd.Series(values))
    assert detected == task
    assert reason in why
