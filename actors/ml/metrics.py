"""Evaluation metrics (DESIGN 9 names) and task detection from the target column."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pandas.api import types as ptypes

from actors.ml.families import CLASSIFICATION, REGRESSION

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
    if not np.all(np.mod(values.to_numpy(dtype=np.float64), 1.0) == 0.0):
        # Counting distinct floats hashes every row: a cost the answer does not need.
        return REGRESSION, "the target is numeric with non-integer values"
    distinct = values.nunique()
    if distinct <= MAX_CLASSES_DETECTED:
        return CLASSIFICATION, f"the target has {distinct} distinct integer values"
    return REGRESSION, f"the target is numeric with {distinct} distinct integer values"


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
    fast = None if counted is None else _probabilistic(y_true, proba, classes, counted)
    if fast is not None:
        result.update(fast)
        result["confusion_matrix"] = {"labels": [_plain(label) for label in classes], "matrix": matrix.tolist()}
        return result, problems
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


def _probabilistic(
    y_true: NDArray[Any], proba: NDArray[np.float64], classes: NDArray[Any], matrix: NDArray[np.int64]
) -> dict[str, float | None] | None:
    """ROC-AUC and log loss as scikit-learn defines them, from one sort per scored class.

    Returns None for the cases scikit-learn answers with an error or a warning (a class
    missing from the truth, scores that are not probabilities), so that its own message
    is what the job records. scikit-learn's versions re-discover the labels and integrate
    the ROC curve; on large partitions they cost more than many fits.
    """
    k = len(classes)
    counts = matrix.sum(axis=1)
    if proba.ndim != 2 or proba.shape != (len(y_true), k) or np.any(counts == 0):
        return None
    if not (np.all(np.isfinite(proba)) and proba.min() >= 0.0 and proba.max() <= 1.0):
        return None
    if k > 2 and not np.allclose(1.0, proba.sum(axis=1)):
        return None
    true_idx = np.searchsorted(classes, y_true)
    if k == 2:
        roc_auc = _rank_auc(true_idx == 1, proba[:, 1], int(counts[1]))
    else:
        roc_auc = float(np.mean([_rank_auc(true_idx == c, proba[:, c], int(counts[c])) for c in range(k)]))
    eps = np.finfo(proba.dtype).eps
    picked = np.clip(proba[np.arange(len(true_idx)), true_idx], eps, 1.0 - eps)
    return {"roc_auc": _number(roc_auc), "log_loss": _number(-np.mean(np.log(picked)))}


def _rank_auc(positive: NDArray[np.bool_], score: NDArray[np.float64], n_pos: int) -> float:
    """The area under the ROC curve as the Mann-Whitney statistic: the rank sum of the
    positives, tied scores sharing their average rank. This equals scikit-learn's
    trapezoidal area over the same scores."""
    order = np.argsort(score)
    ordered = score[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(ordered)]
    positives_per_tie = np.add.reduceat(positive[order].astype(np.int64), starts)
    # Ranks are 1-based; a run of ties [start, end) shares the mean of its ranks.
    rank_sum = float(np.dot(positives_per_tie, (starts + ends + 1) / 2.0))
    n_neg = len(score) - n_pos
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


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
