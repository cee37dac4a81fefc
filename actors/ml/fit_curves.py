"""What each family records on its learning curve while it fits.

Boosting families evaluate the fit rows and one held-out set through their own evaluation
hooks (XGBoost's ``eval_set`` with a callback reading ``evals_log``, LightGBM's
``eval_set`` with a callback reading ``evaluation_result_list``). Evaluation sets never
change a boosting fit unless early stopping reads them, which only ever sees the
validation rows carved from the train partition. Random forests score the held-out rows
after each batch of trees from a running sum of the new trees' predictions.

Series per task: the loss (``log_loss`` / ``rmse``) and the headline metric (``accuracy``
/ ``r2``, where R² derives exactly from the RMSE and the partition's variance), on the
fit rows (``train``) and the held-out rows (``test``, or ``validation`` with early
stopping).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xgboost
from numpy.typing import NDArray

from actors.ml.curves import CurveLog
from actors.ml.families import CLASSIFICATION

FOREST_CURVE_ROWS = 20_000
"""Held-out rows a forest's curve scores after each batch (a seeded sample beyond that)."""


@dataclass
class FitMonitor:
    """What a fit reports besides progress: its learning curve and its early stopping.

    Attributes:
        curve: Where points go, or None to record no curve.
        task: ``classification`` or ``regression``.
        held_out: ``(x, y)`` scored on the curve (the test rows without early stopping,
            the validation rows with it); None for no held-out series.
        held_out_name: ``"test"`` or ``"validation"``.
        early_stopping_rounds: Boosting stops after this many rounds without improvement
            of the held-out loss; None fits every round. Needs ``held_out`` = validation.
        n_classes: Classes of a classification task.
    """

    curve: CurveLog | None
    task: str
    held_out: tuple[NDArray[np.float64], NDArray[Any]] | None = None
    held_out_name: str = "test"
    early_stopping_rounds: int | None = None
    n_classes: int = 2

    @property
    def classify(self) -> bool:
        return self.task == CLASSIFICATION

    def metrics(self) -> tuple[str, str]:
        return ("log_loss", "accuracy") if self.classify else ("rmse", "r2")

    def partitions(self) -> list[str]:
        return ["train"] + ([self.held_out_name] if self.held_out is not None else [])

    def start(self, unit: str, partitions: list[str] | None = None) -> None:
        if self.curve is not None:
            chosen = self.partitions() if partitions is None else partitions
            self.curve.start(unit, [(p, m) for p in chosen for m in self.metrics()])


def _r2(rmse: float, variance: float) -> float:
    return float("nan") if variance <= 0 else 1.0 - rmse * rmse / variance


def xgboost_metrics(monitor: FitMonitor) -> list[str]:
    """XGBoost's ``eval_metric`` for the monitor; the loss comes last because early stopping reads the last."""
    if not monitor.classify:
        return ["rmse"]
    return ["merror", "mlogloss"] if monitor.n_classes > 2 else ["error", "logloss"]


class XGBoostCurve(xgboost.callback.TrainingCallback):
    """Appends the last round of ``evals_log`` to the curve (``validation_0`` = fit rows)."""

    def __init__(self, monitor: FitMonitor, variances: list[float]) -> None:
        super().__init__()
        self._monitor = monitor
        self._variances = variances
        self._names = xgboost_metrics(monitor)

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        curve = self._monitor.curve
        if curve is None:
            return False
        values: list[float] = []
        for index, variance in enumerate(self._variances):
            log = evals_log.get(f"validation_{index}", {})
            if self._monitor.classify:
                error, loss = (float(log[name][-1]) for name in self._names)
                values += [loss, 1.0 - error]
            else:
                rmse = float(log["rmse"][-1])
                values += [rmse, _r2(rmse, variance)]
        curve.add(epoch + 1, values)
        return False


def lightgbm_metrics(monitor: FitMonitor) -> list[str]:
    """LightGBM's ``eval_metric``; the loss comes first because early stopping reads the first."""
    if not monitor.classify:
        return ["rmse"]
    return ["multi_logloss", "multi_error"] if monitor.n_classes > 2 else ["binary_logloss", "binary_error"]


LIGHTGBM_NAMES = ("train", "held_out")


def lightgbm_recorder(monitor: FitMonitor, variances: list[float]) -> Callable[[Any], None]:
    """A LightGBM callback appending each round's evaluation to the curve."""
    names = lightgbm_metrics(monitor)

    def record(env: Any) -> None:
        curve = monitor.curve
        if curve is None:
            return
        found = {(data, metric): float(value) for data, metric, value, *_ in env.evaluation_result_list}
        values: list[float] = []
        for data, variance in zip(LIGHTGBM_NAMES, variances, strict=False):
            if monitor.classify:
                values += [found[(data, names[0])], 1.0 - found[(data, names[1])]]
            else:
                rmse = found[(data, "rmse")]
                values += [rmse, _r2(rmse, variance)]
        curve.add(env.iteration - env.begin_iteration + 1, values)

    return record


def partition_variances(monitor: FitMonitor, y_fit: NDArray[Any]) -> list[float]:
    """The target variance of each curve partition (R² from RMSE needs it)."""
    if monitor.classify:
        return [0.0] * len(monitor.partitions())
    found = [float(np.var(y_fit))]
    if monitor.held_out is not None:
        found.append(float(np.var(monitor.held_out[1])))
    return found


class ForestScorer:
    """Scores the held-out rows as trees are added, from a running sum of tree predictions."""

    def __init__(self, monitor: FitMonitor, seed: int) -> None:
        self._monitor = monitor
        assert monitor.held_out is not None
        x, y = monitor.held_out
        if len(y) > FOREST_CURVE_ROWS:
            rows = np.sort(np.random.default_rng(seed).choice(len(y), FOREST_CURVE_ROWS, replace=False))
            x, y = x[rows], y[rows]
        # Forests predict on float32 features; converting once keeps each batch cheap.
        self._x = np.ascontiguousarray(x, dtype=np.float32)
        self._y = np.asarray(y)
        self._sum: NDArray[np.float64] | None = None
        self._trees = 0

    def add(self, trees: list[Any]) -> None:
        """Fold in newly grown trees and record the held-out score of the forest so far."""
        for tree in trees:
            out = tree.predict_proba(self._x, check_input=False) if self._monitor.classify else tree.predict(
                self._x, check_input=False)
            part = np.asarray(out, dtype=np.float64)
            self._sum = part if self._sum is None else self._sum + part
        self._trees += len(trees)
        if self._sum is None or self._monitor.curve is None:
            return
        mean = self._sum / self._trees
        if self._monitor.classify:
            y = self._y.astype(np.intp)
            eps = np.finfo(np.float64).eps
            picked = np.clip(mean[np.arange(len(y)), y], eps, 1.0 - eps)
            values = [float(-np.mean(np.log(picked))), float(np.mean(np.argmax(mean, axis=1) == y))]
        else:
            residual = self._y - mean
            rmse = float(np.sqrt(np.mean(residual * residual)))
            values = [rmse, _r2(rmse, float(np.var(self._y)))]
        self._monitor.curve.add(self._trees, values)
