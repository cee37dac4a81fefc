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

from actors.ml.checkpoints import Checkpoint
from actors.ml.families import CLASSIFICATION, FIT_ONLY_PARAMS
from actors.ml.fit_curves import (
    LIGHTGBM_NAMES,
    FitMonitor,
    ForestScorer,
    XGBoostCurve,
    lightgbm_metrics,
    lightgbm_recorder,
    partition_variances,
    xgboost_metrics,
)
from actors.ml.warncapture import recorded_warnings

RF_BATCH_TARGET_S = 0.1
RF_MAX_BATCH = 50
# scikit-learn warns about this combination because warm_start usually means new data;
# here every batch sees the same rows, so the result equals a one-shot fit.
_EXPECTED_WARNINGS = ("class_weight presets",)
CURVE_FAMILIES = frozenset({"random_forest", "xgboost", "lightgbm"})
"""Families whose fit records a learning curve (scikit-learn's lbfgs exposes no per-iteration loss)."""
PREDICT_IS_ARGMAX = frozenset({"random_forest", "xgboost", "lightgbm"})
"""Families whose classifier ``predict`` is exactly the first argmax of ``predict_proba``
(XGBoost's binary ``p > 0.5`` included: ``1 - p`` is exact for ``p >= 0.5``), so the
evaluation derives labels from the probabilities instead of running every tree twice."""


def estimator_kwargs(model_type: str, resolved: dict[str, Any]) -> dict[str, Any]:
    """Constructor keyword arguments for the library estimator of ``model_type``."""
    kwargs = {key: value for key, value in resolved.items() if key not in FIT_ONLY_PARAMS}
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
    model_type: str, estimator: Any, x: NDArray[np.float64], y: NDArray[Any], checkpoint: Checkpoint,
    monitor: FitMonitor | None = None,
) -> list[str]:
    """Fit ``estimator`` in place, checking ``checkpoint`` inside the fit.

    With a ``monitor``, boosting families and forests record their learning curve and
    boosting families stop early when it asks for it; without one (or with neither a
    curve nor early stopping) the fit is exactly the library's own.

    Returns:
        Messages of the warnings the library emitted while fitting (e.g. convergence).

    Raises:
        JobStopped: when the checkpoint fires; the fit stops within one round or batch.
    """
    with recorded_warnings() as caught:
        if model_type == "xgboost":
            _fit_xgboost(estimator, x, y, checkpoint, monitor)
        elif model_type == "lightgbm":
            _fit_lightgbm(estimator, x, y, checkpoint, monitor)
        elif model_type == "random_forest":
            _fit_forest(estimator, x, y, checkpoint, monitor)
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


def _evaluated(monitor: FitMonitor | None) -> bool:
    return monitor is not None and (monitor.curve is not None or monitor.early_stopping_rounds is not None)


def _eval_set(
    monitor: FitMonitor, x: NDArray[np.float64], y: NDArray[Any]
) -> list[tuple[NDArray[np.float64], NDArray[Any]]]:
    # The fit rows are passed as the very same objects: both libraries then reuse the
    # training matrix instead of building a copy.
    return [(x, y)] + ([monitor.held_out] if monitor.held_out is not None else [])


def _fit_xgboost(
    estimator: Any, x: NDArray[np.float64], y: NDArray[Any], checkpoint: Checkpoint, monitor: FitMonitor | None
) -> None:
    checkpoint.check("before fit")
    total = int(estimator.get_params()["n_estimators"])
    callbacks: list[Any] = []
    fit_kwargs: dict[str, Any] = {}
    matrices = _TrainingMatrix(estimator)
    if monitor is not None and _evaluated(monitor):
        monitor.start("round")
        variances = partition_variances(monitor, y)
        estimator.set_params(eval_metric=xgboost_metrics(monitor),
                             early_stopping_rounds=monitor.early_stopping_rounds)
        if monitor.early_stopping_rounds is not None:
            # Early stopping reads XGBoost's evaluation of every round: the curve reads it too.
            callbacks.append(XGBoostCurve(monitor, variances))
            fit_kwargs = {"eval_set": _eval_set(monitor, x, y), "verbose": False}
        else:
            rows = len(y) + (0 if monitor.held_out is None else len(monitor.held_out[1]))
            callbacks.append(XGBoostCurve(monitor, variances, matrices.curve_matrices(monitor, x, y), total, rows))
            matrices.capture()
    callbacks.append(_XGBoostCheckpoint(checkpoint, total))
    estimator.set_params(callbacks=callbacks)
    try:
        estimator.fit(x, y, **fit_kwargs)
    finally:
        # The callbacks hold the job's closures and matrices; the artifact must not.
        # Evaluation settings go too, so the saved estimator's parameters are the job's.
        matrices.release()
        estimator.set_params(callbacks=None, eval_metric=None, early_stopping_rounds=None)
    if monitor is not None and monitor.curve is not None and monitor.early_stopping_rounds is not None:
        monitor.curve.mark_best(int(estimator.best_iteration) + 1)


class _TrainingMatrix:
    """Hands the curve the DMatrix XGBoost's scikit-learn wrapper builds for the fit rows.

    The wrapper builds it inside ``fit`` and gives no callback a reference. Scoring that
    very matrix costs no prediction (the fit keeps its predictions up to date), while a
    matrix of our own would predict every tree over every fit row again. The wrapper's
    ``_create_dmatrix`` is wrapped on this estimator only, for the fit only, and builds
    exactly what it would have built; without that hook (another XGBoost version) the
    curve scores a DMatrix of its own: slower, same values.
    """

    def __init__(self, estimator: Any) -> None:
        self._estimator = estimator
        self._found: Any = None
        self._wrapped = False

    def capture(self) -> None:
        create = getattr(self._estimator, "_create_dmatrix", None)
        if create is None:
            return

        def recording(ref: Any = None, **kwargs: Any) -> Any:
            matrix = create(ref=ref, **kwargs)
            if ref is None and self._found is None:
                self._found = matrix
            return matrix

        self._estimator._create_dmatrix = recording
        self._wrapped = True

    def release(self) -> None:
        if self._wrapped:
            del self._estimator._create_dmatrix
            self._wrapped = False

    def curve_matrices(self, monitor: FitMonitor, x: NDArray[np.float64], y: NDArray[Any]) -> Any:
        """A function giving ``[fit rows matrix, held-out matrix]`` once the fit has begun."""
        threads = self._estimator.get_params().get("n_jobs")
        built: list[Any] = []

        def matrices() -> list[Any]:
            if not built:
                train = self._found if self._found is not None else xgboost.DMatrix(x, y, nthread=threads)
                built.append(train)
                if monitor.held_out is not None:
                    built.append(xgboost.DMatrix(*monitor.held_out, nthread=threads))
            return built

        return matrices


def _fit_lightgbm(
    estimator: Any, x: NDArray[np.float64], y: NDArray[Any], checkpoint: Checkpoint, monitor: FitMonitor | None
) -> None:
    import lightgbm

    checkpoint.check("before fit")
    total = int(estimator.get_params()["n_estimators"])

    def after_round(env: Any) -> None:
        done = env.iteration - env.begin_iteration + 1
        checkpoint.progress("fit", done, total, "rounds")
        checkpoint.check(f"boosting round {done}")

    callbacks: list[Any] = []
    fit_kwargs: dict[str, Any] = {}
    if monitor is not None and _evaluated(monitor):
        monitor.start("round")
        callbacks.append(lightgbm_recorder(monitor, partition_variances(monitor, y)))
        eval_set = _eval_set(monitor, x, y)
        fit_kwargs = {"eval_X": tuple(xy[0] for xy in eval_set), "eval_y": tuple(xy[1] for xy in eval_set),
                      "eval_names": list(LIGHTGBM_NAMES[: len(eval_set)]), "eval_metric": lightgbm_metrics(monitor)}
        if monitor.early_stopping_rounds is not None:
            # The training set is never a stopping criterion; the first metric is the loss.
            callbacks.append(lightgbm.early_stopping(monitor.early_stopping_rounds, first_metric_only=True,
                                                     verbose=False))
    callbacks.append(after_round)
    estimator.fit(x, y, callbacks=callbacks, **fit_kwargs)
    if monitor is not None and monitor.curve is not None and monitor.early_stopping_rounds is not None:
        monitor.curve.mark_best(int(estimator.best_iteration_))


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


def _fit_forest(
    estimator: Any, x: NDArray[np.float64], y: NDArray[Any], checkpoint: Checkpoint, monitor: FitMonitor | None
) -> None:
    # warm_start draws each new tree's seed from the same sequence, so batching never
    # changes the forest: it equals a one-shot fit with the same random_state.
    params = estimator.get_params()
    total = int(params["n_estimators"])
    threads = int(params.get("n_jobs") or 1)
    parallel = (os.cpu_count() or 1) if threads < 0 else threads
    estimator.set_params(warm_start=True)
    done = 0
    per_tree: float | None = None
    scorer: ForestScorer | None = None
    if monitor is not None and monitor.curve is not None and monitor.held_out is not None:
        monitor.start("trees", [monitor.held_out_name])
        scorer = ForestScorer(monitor, int(params.get("random_state") or 0))
    try:
        while done < total:
            checkpoint.check(f"forest at {done} of {total} trees")
            size = next_forest_batch(done, total, per_tree, parallel)
            started = time.perf_counter()
            estimator.set_params(n_estimators=done + size)
            estimator.fit(x, y)
            per_tree = (time.perf_counter() - started) / size
            if scorer is not None:
                scorer.add(estimator.estimators_[done:done + size])
            done += size
            checkpoint.progress("fit", done, total, "trees")
    finally:
        estimator.set_params(warm_start=False, n_estimators=total)
    checkpoint.check("after fit")
