"""Evaluation metrics (DESIGN 9 names) and task detection from the target column."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pandas.api import types as ptypes

from actors.families import CLASSIFICATION, REGRESSION

MAX_CLASSES_DETECTED = 20


def detect_task(target: pd.Series) -> tuple[str, str]:
    """Guess the task from the target column.

    Non-numeric or boolean targets are classification; numeric targets are
    classification when every value is integral and there are at most
    ``MAX_CLASSES_DETECTED`` distinct values, regression otherwise.

    Returns:
        ``(task, reason)``.
    """
    values = target.dropna()
    if not ptypes.is_numeric_dtype(values.dtype) or ptypes.is_bool_dtype(values.dtype):
        return CLASSIFICATION, "the target is not numeric"
    distinct = values.nunique()
    integral = bool(np.all(np.mod(values.to_numpy(dtype=np.float64), 1.0) == 0.0))
    if integral and distinct <= MAX_CLASSES_DETECTED:
        return CLASSIFICATION, f"the target has {distinct} distinct integer values"
    return REGRESSION, f"the target is numeric with {distinct} distinct values"


def _number(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def classification_metrics(
    y_true: NDArray[Any], y_pred: NDArray[Any], proba: NDArray[np.float64], classes: NDArray[Any]
) -> tuple[dict[str, Any], list[str]]:
    """Accuracy, F1, ROC-AUC, precision, recall, log loss and the confusion matrix.

    F1, precision and recall are binary (positive class = ``classes[1]``) for two classes
    and macro-averaged otherwise (also when the truth holds a label the model never saw);
    ROC-AUC is one-vs-rest macro for more than two classes.

    Returns:
        ``(metrics, problems)``: a metric that cannot be computed on these rows is None
        and explained in ``problems``.
    """
    from sklearn import metrics as skm

    binary = len(classes) == 2
    counted = _count_matrix(y_true, y_pred, classes)
    if counted is None:  # labels outside ``classes``: let scikit-learn sort them out, macro-averaged
        average: dict[str, Any] = {"average": "macro"}
        result: dict[str, Any] = {
            "accuracy": float(skm.accuracy_score(y_true, y_pred)),
            "f1": float(skm.f1_score(y_true, y_pred, zero_division=0, **average)),
            "precision": float(skm.precision_score(y_true, y_pred, zero_division=0, **average)),
            "recall": float(skm.recall_score(y_true, y_pred, zero_division=0, **average)),
        }
        matrix = skm.confusion_matrix(y_true, y_pred, labels=classes)
    else:
        matrix = counted
        result = {"accuracy": float(np.trace(matrix) / matrix.sum()), **_prf(matrix, binary)}
    problems: list[str] = []
    try:
        score = skm.roc_auc_score(y_true, proba[:, 1]) if binary else skm.roc_auc_score(
            y_true, proba, multi_class="ovr", average="macro", labels=classes)
        result["roc_auc"] = _number(score)
    except ValueError as exc:
        result["roc_auc"] = None
        problems.append(f"roc_auc: {exc}")
    try:
        result["log_loss"] = _number(skm.log_loss(y_true, proba, labels=classes))
    except ValueError as exc:
        result["log_loss"] = None
        problems.append(f"log_loss: {exc}")
    result["confusion_matrix"] = {"labels": [_plain(label) for label in classes], "matrix": matrix.tolist()}
    return result, problems


def _count_matrix(y_true: NDArray[Any], y_pred: NDArray[Any], classes: NDArray[Any]) -> NDArray[np.int64] | None:
    """The confusion matrix by counting (rows: true, columns: predicted), or None when a
    label is not one of the sorted ``classes``.

    One pass over the rows replaces the label discovery every scikit-learn metric repeats,
    which dominated the evaluation of large partitions.
    """
    k = len(classes)
    true_idx = np.searchsorted(classes, y_true)
    pred_idx = np.searchsorted(classes, y_pred)
    for idx, labels in ((true_idx, y_true), (pred_idx, y_pred)):
        if np.any(idx >= k) or not np.array_equal(classes[np.minimum(idx, k - 1)], labels):
            return None
    return np.bincount(true_idx * k + pred_idx, minlength=k * k).reshape(k, k).astype(np.int64)


def _ratio(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    """``num / den`` with 0 where ``den`` is 0 (scikit-learn's ``zero_division=0``)."""
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _prf(matrix: NDArray[np.int64], binary: bool) -> dict[str, float]:
    """Precision, recall and F1 as scikit-learn computes them: binary for the second class,
    else the macro mean over the labels present in either the truth or the predictions."""
    tp = np.diag(matrix).astype(np.float64)
    pred_sum = matrix.sum(axis=0).astype(np.float64)
    true_sum = matrix.sum(axis=1).astype(np.float64)
    precision, recall = _ratio(tp, pred_sum), _ratio(tp, true_sum)
    f1 = _ratio(2 * tp, true_sum + pred_sum)
    if binary:
        return {"f1": float(f1[1]), "precision": float(precision[1]), "recall": float(recall[1])}
    present = (true_sum + pred_sum) > 0
    return {
        "f1": float(np.mean(f1[present])),
        "precision": float(np.mean(precision[present])),
        "recall": float(np.mean(recall[present])),
    }


def regression_metrics(y_true: NDArray[np.float64], y_pred: NDArray[np.float64]) -> dict[str, Any]:
    """RMSE, MAE and R²."""
    from sklearn import metrics as skm

    return {
        "rmse": _number(skm.root_mean_squared_error(y_true, y_pred)),
        "mae": _number(skm.mean_absolute_error(y_true, y_pred)),
        "r2": _number(skm.r2_score(y_true, y_pred)),
    }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
