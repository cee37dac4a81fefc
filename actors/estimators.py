"""Building estimators from resolved hyperparameters and fitting them cooperatively.

Every fit honours the job's checkpoint: XGBoost and LightGBM check it after each boosting
round (their callback APIs), random forest between batches of trees grown with
``warm_start`` (scikit-learn reseeds new trees exactly as a one-shot fit would), other
families before and after the fit.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import xgboost
from numpy.typing import NDArray

from actors.checkpoints import Checkpoint
from actors.families import CLASSIFICATION
from actors.warncapture import recorded_warnings

RF_BATCH_TARGET_S = 0.1
RF_MAX_BATCH = 50
# scikit-learn warns about this combination because warm_start usually means new data;
# here every batch sees the same rows, so the result equals a one-shot fit.
_EXPECTED_WARNINGS = ("class_weight presets",)
PREDICT_IS_ARGMAX = frozenset({"random_forest", "xgboost", "lightgbm"})
"""Families whose classifier ``predict`` is exactly the first argmax of ``predict_proba``
(XGBoost's binary ``p > 0.5`` included: ``1 - p`` is exact for ``p >= 0.5``), so the
evaluation derives labels from the probabilities instead of running every tree twice."""


def estimator_kwargs(model_type: str, resolved: dict[str, Any]) -> dict[str, Any]:
    """Constructor keyword arguments for the library estimator of ``model_type``."""
    kwargs = dict(resolved)
    if kwargs.get("class_weight") == "none":
        kwargs["class_weight"] = None
    if model_type == "random_forest" and kwargs.get("max_features") == "all":
        kwargs["max_features"] = 1.0
    if model_type == "lightgbm":
        kwargs["verbose"] = -1
    return kwargs


def build_estimator(model_type: str, task: str, resolved: dict[str, Any]) -> Any:
    """A fresh, unfitted library estimator for ``model_type`` and ``task``."""
    kwargs = estimator_kwargs(model_type, resolved)
    classify = task == CLASSIFICATION
    if model_type == "logistic_regression":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(**kwargs)
    if model_type == "linear_regression":
        from sklearn.linear_model import LinearRegression

        return LinearRegression(**kwargs)
    if model_type == "random_forest":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        return RandomForestClassifier(**kwargs) if classify else RandomForestRegressor(**kwargs)
    if model_type == "xgboost":
        return xgboost.XGBClassifier(**kwargs) if classify else xgboost.XGBRegressor(**kwargs)
    if model_type == "lightgbm":
        import lightgbm

        return lightgbm.LGBMClassifier(**kwargs) if classify else lightgbm.LGBMRegressor(**kwargs)
    raise ValueError(f"unknown model_type {model_type!r}")


def fit_estimator(
    model_type: str, estimator: Any, x: NDArray[np.float64], y: NDArray[Any], checkpoint: Checkpoint
) -> list[str]:
    """Fit ``estimator`` in place, checking ``checkpoint`` inside the fit.

    Returns:
        Messages of the warnings the library emitted while fitting (e.g. convergence).

    Raises:
        JobStopped: when the checkpoint fires; the fit stops within one round or batch.
    """
    with recorded_warnings() as caught:
        if model_type == "xgboost":
            _fit_xgboost(estimator, x, y, checkpoint)
        elif model_type == "lightgbm":
            _fit_lightgbm(estimator, x, y, checkpoint)
        elif model_type == "random_forest":
            _fit_forest(estimator, x, y, checkpoint)
        else:
            checkpoint.check("before fit")
            estimator.fit(x, y)
            checkpoint.progress("fit", 1, 1, "fits")
            checkpoint.check("after fit")
    messages = [str(item.message) for item in caught]
    unique = [text for text in dict.fromkeys(messages) if not any(part in text for part in _EXPECTED_WARNINGS)]
    return unique


class _XGBoostCheckpoint(xgboost.callback.TrainingCallback):
    def __init__(self, checkpoint: Checkpoint, total: int) -> None:
        super().__init__()
        self._checkpoint = checkpoint
        self._total = total

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        self._checkpoint.progress("fit", epoch + 1, self._total, "rounds")
        self._checkpoint.check(f"boosting round {epoch + 1}")
        return False


def _fit_xgboost(estimator: Any, x: NDArray[np.float64], y: NDArray[Any], checkpoint: Checkpoint) -> None:
    checkpoint.check("before fit")
    total = int(estimator.get_params()["n_estimators"])
    estimator.set_params(callbacks=[_XGBoostCheckpoint(checkpoint, total)])
    try:
        estimator.fit(x, y)
    finally:
        # The callback holds the job's closures; the artifact must not.
        estimator.set_params(callbacks=None)


def _fit_lightgbm(estimator: Any, x: NDArray[np.float64], y: NDArray[Any], checkpoint: Checkpoint) -> None:
    checkpoint.check("before fit")
    total = int(estimator.get_params()["n_estimators"])

    def after_round(env: Any) -> None:
        done = env.iteration - env.begin_iteration + 1
        checkpoint.progress("fit", done, total, "rounds")
        checkpoint.check(f"boosting round {done}")

    estimator.fit(x, y, callbacks=[after_round])


def next_forest_batch(done: int, total: int, seconds_per_tree: float | None, parallel: int = 1) -> int:
    """How many trees to grow before the next checkpoint.

    The first batch is one tree per thread; later batches are sized from the measured wall
    time per tree so that each lasts about ``RF_BATCH_TARGET_S``: a stop request then waits
    for at most that long (or ``RF_MAX_BATCH`` trees), however large or slow the forest is.
    Batches stay a multiple of ``parallel`` so every thread has a tree to grow.
    """
    parallel = max(1, parallel)
    unknown = seconds_per_tree is None or seconds_per_tree <= 0
    size = parallel if unknown else int(RF_BATCH_TARGET_S / seconds_per_tree)  # type: ignore[operator]
    size = max(parallel, min(RF_MAX_BATCH, size))
    size = -(-size // parallel) * parallel
    return min(total - done, size)


def _fit_forest(estimator: Any, x: NDArray[np.float64], y: NDArray[Any], checkpoint: Checkpoint) -> None:
    # warm_start draws each new tree's seed from the same sequence, so batching never
    # changes the forest: it equals a one-shot fit with the same random_state.
    params = estimator.get_params()
    total = int(params["n_estimators"])
    threads = int(params.get("n_jobs") or 1)
    parallel = (os.cpu_count() or 1) if threads < 0 else threads
    estimator.set_params(warm_start=True)
    done = 0
    per_tree: float | None = None
    try:
        while done < total:
            checkpoint.check(f"forest at {done} of {total} trees")
            size = next_forest_batch(done, total, per_tree, parallel)
            started = time.perf_counter()
            estimator.set_params(n_estimators=done + size)
            estimator.fit(x, y)
            per_tree = (time.perf_counter() - started) / size
            done += size
            checkpoint.progress("fit", done, total, "trees")
    finally:
        estimator.set_params(warm_start=False, n_estimators=total)
    checkpoint.check("after fit")
