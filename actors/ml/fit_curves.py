"""What each family records on its learning curve while it fits.

Boosting families evaluate the fit rows and one held-out set with their own metrics:
LightGBM through ``eval_set`` and a callback reading ``evaluation_result_list`` every
round; XGBoost through ``eval_set`` and ``evals_log`` with early stopping, and otherwise
by asking the booster to score its training matrix and the held-out matrix on the rounds
of a :class:`RoundSchedule` (every round of a small fit; a bounded share of the fit's time
on a large one, where scoring every round would cost half a round each). Evaluation never
changes a boosting fit unless early stopping reads it, which only ever sees the
validation rows carved from the train partition. Random forests score the held-out rows
after each batch of trees from a running sum of the new trees' predictions.

Series per task: the loss (``log_loss`` / ``rmse``) and the headline metric (``accuracy``
/ ``r2``, where R² derives exactly from the RMSE and the partition's variance), on the
fit rows (``train``) and the held-out rows (``test``, or ``validation`` with early
stopping).
"""

from __future__ import annotations

import time
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


CURVE_EVERY_ROUND_ROWS = 25_000
"""Up to this many evaluated rows (fit rows plus held-out rows) a boosting curve scores every round."""
CURVE_TIME_SHARE = 0.05
"""Beyond it, scoring the curve takes about this share of the fit's wall time at most."""


class RoundSchedule:
    """Which boosting rounds a curve scores when the library is not scoring every round anyway.

    XGBoost's evaluation is a pass over every evaluated row (a copy, the link function, each
    metric): on a large fit it costs half a round. A small fit scores every round; a large
    one scores the first and the last round and, between them, a round whenever the time
    spent scoring stays within ``CURVE_TIME_SHARE`` of the time since the fit began.
    """

    def __init__(self, rows: int, total: int, clock: Callable[[], float]) -> None:
        self._every_round = rows <= CURVE_EVERY_ROUND_ROWS
        self._total = total
        self._clock = clock
        self._began = clock()
        self._spent = 0.0

    def due(self, step: int) -> bool:
        """Whether to score after ``step`` rounds."""
        if self._every_round or step in (1, self._total):
            return True
        return self._spent <= CURVE_TIME_SHARE * (self._clock() - self._began)

    def spent(self, seconds: float) -> None:
        """Count ``seconds`` spent scoring."""
        self._spent += seconds


def _parse_scores(text: str) -> dict[tuple[str, str], float]:
    # Booster.eval_set's line: "[epoch]\tname-metric:value\tname-metric:value...".
    found: dict[tuple[str, str], float] = {}
    for item in text.split("\t")[1:]:
        key, value = item.rsplit(":", 1)
        data, metric = key.split("-", 1)
        found[(data, metric)] = float(value)
    return found


class XGBoostCurve(xgboost.callback.TrainingCallback):
    """Appends XGBoost's own evaluation of the fit rows and the held-out rows to the curve.

    With early stopping XGBoost scores its ``eval_set`` every round (``validation_0`` =
    fit rows) and the curve reads the last entry of ``evals_log``. Without it no
    ``eval_set`` is given: the callback asks the booster to score the training matrix
    (whose predictions the fit keeps up to date) and the held-out matrix on the rounds
    of a :class:`RoundSchedule`, still computed by XGBoost's metrics in C++.
    """

    def __init__(self, monitor: FitMonitor, variances: list[float], matrices: Callable[[], list[Any]] | None = None,
                 total: int = 0, rows: int = 0, clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__()
        self._monitor = monitor
        self._variances = variances
        self._names = xgboost_metrics(monitor)
        self._matrices = matrices
        self._total, self._rows, self._clock = total, rows, clock
        self._schedule: RoundSchedule | None = None
        self._matrices_built: list[Any] = []

    def before_training(self, model: Any) -> Any:
        # Building the held-out matrix is paid once, before the schedule counts its time.
        self._matrices_built = self._matrices() if self._matrices is not None else []
        self._schedule = RoundSchedule(self._rows, self._total, self._clock)
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        if self._monitor.curve is None:
            return False
        if self._matrices is None:
            scores = {(f"validation_{index}", metric): float(log[-1])
                      for index in range(len(self._variances))
                      for metric, log in evals_log.get(f"validation_{index}", {}).items()}
        else:
            assert self._schedule is not None
            if not self._schedule.due(epoch + 1):
                return False
            started = self._clock()
            names = [f"validation_{index}" for index in range(len(self._variances))]
            scores = _parse_scores(model.eval_set(list(zip(self._matrices_built, names, strict=True)), epoch))
            self._schedule.spent(self._clock() - started)
        self._add(epoch + 1, scores)
        return False

    def _add(self, step: int, scores: dict[tuple[str, str], float]) -> None:
        assert self._monitor.curve is not None
        values: list[float] = []
        for index, variance in enumerate(self._variances):
            data = f"validation_{index}"
            if self._monitor.classify:
                error, loss = (scores[(data, name)] for name in self._names)
                values += [loss, 1.0 - error]
            else:
                rmse = scores[(data, "rmse")]
                values += [rmse, _r2(rmse, variance)]
        self._monitor.curve.add(step, values)


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
