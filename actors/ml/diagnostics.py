"""Diagnostic curves on the test partition: ROC, precision-recall and calibration for
classifiers (one-vs-rest per class when there are more than two), predicted vs actual,
residuals and error by decile for regressors. Curves are thinned to a few hundred points
so that they stay small enough to store with the job and draw in the browser.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from actors.ml.curves import downsample

MAX_CURVE_POINTS = 200
MAX_SCATTER_POINTS = 2000
CALIBRATION_BINS = 10


def _num(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _thin(*columns: NDArray[np.float64]) -> list[list[float | None]]:
    rows = [list(map(_num, row)) for row in zip(*columns, strict=True)]
    return downsample(rows, MAX_CURVE_POINTS)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _scored_classes(proba: NDArray[np.float64], classes: NDArray[Any]) -> list[int]:
    """The class columns to draw: the positive class of a binary task, else every class."""
    return [1] if len(classes) == 2 else list(range(len(classes)))


def classification_curves(y_index: NDArray[np.intp], proba: NDArray[np.float64], classes: NDArray[Any]
                          ) -> dict[str, Any]:
    """``{"roc", "pr", "calibration"}`` for test labels given as class indices."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    roc: list[dict[str, Any]] = []
    pr: list[dict[str, Any]] = []
    calibration: list[dict[str, Any]] = []
    for column in _scored_classes(proba, classes):
        truth = (y_index == column).astype(np.int64)
        score = proba[:, column]
        label = _plain(classes[column])
        positives = int(truth.sum())
        if positives == 0 or positives == len(truth):
            continue  # a curve needs both outcomes among the test rows
        fpr, tpr, _ = roc_curve(truth, score)
        roc.append({"label": label, "auc": _num(roc_auc_score(truth, score)), "points": _thin(fpr, tpr)})
        precision, recall, _ = precision_recall_curve(truth, score)
        pr.append({"label": label, "average_precision": _num(average_precision_score(truth, score)),
                   "points": _thin(recall, precision), "positive_rate": positives / len(truth)})
        # The same bins as calibration_curve, which leaves the empty ones out.
        edges = np.linspace(0.0, 1.0 + 1e-8, CALIBRATION_BINS + 1)
        counts = np.bincount(np.searchsorted(edges[1:-1], score), minlength=CALIBRATION_BINS)
        observed, predicted = calibration_curve(truth, score, n_bins=CALIBRATION_BINS, strategy="uniform")
        calibration.append({"label": label, "points": _thin(predicted, observed),
                            "counts": [int(c) for c in counts if c > 0]})
    scheme = "binary" if len(classes) == 2 else "one_vs_rest"
    return {"roc": {"scheme": scheme, "curves": roc}, "pr": {"scheme": scheme, "curves": pr},
            "calibration": {"scheme": scheme, "bins": CALIBRATION_BINS, "curves": calibration}}


def regression_residuals(y_true: NDArray[np.float64], y_pred: NDArray[np.float64], seed: int) -> dict[str, Any]:
    """Predicted vs actual (a seeded sample of points) and the error per decile of the actual value."""
    n = len(y_true)
    rows = np.arange(n)
    if n > MAX_SCATTER_POINTS:
        rows = np.sort(np.random.default_rng(seed).choice(n, MAX_SCATTER_POINTS, replace=False))
    residual = y_true - y_pred
    points = [[_num(y_true[i]), _num(y_pred[i]), _num(residual[i])] for i in rows]
    order = np.argsort(y_true, kind="stable")
    deciles = []
    for index, chunk in enumerate(np.array_split(order, 10)):
        if len(chunk) == 0:
            continue
        err = residual[chunk]
        deciles.append({
            "decile": index + 1, "count": len(chunk),
            "low": _num(y_true[chunk].min()), "high": _num(y_true[chunk].max()),
            "mae": _num(np.mean(np.abs(err))), "rmse": _num(np.sqrt(np.mean(err * err))),
            "bias": _num(np.mean(-err)),
        })
    return {"columns": ["actual", "predicted", "residual"], "points": points, "rows": n,
            "sampled": n > MAX_SCATTER_POINTS, "by_decile": deciles}
