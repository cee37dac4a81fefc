"""Feature importance: the library's own, permutation importance and mean |SHAP|.

Permutation importance follows scikit-learn's ``permutation_importance`` step for step
(one seed drawn from ``random_state``, a fresh ``RandomState`` from it per feature,
cumulative shuffles of the feature's column, the estimator's own ``score``), so the
numbers equal it on the same rows and seed; it runs one feature at a time so that the
explain stage can stop between features. SHAP values are the boosting libraries'
built-in tree SHAP (``pred_contribs`` / ``pred_contrib``): no extra dependency.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

LINEAR = frozenset({"logistic_regression", "linear_regression"})
SHAP_FAMILIES = frozenset({"xgboost", "lightgbm"})


def library_importance(model_type: str, model: Any, n_features: int) -> tuple[str, NDArray[np.float64]] | None:
    """``(kind, values)``: gain for boosting, impurity decrease for forests, coefficients for linear models.

    Coefficients of a multiclass model are reported as the mean absolute coefficient per
    feature; binary and regression models keep their signed coefficients.
    """
    if model_type == "xgboost":
        scores = model.get_booster().get_score(importance_type="gain")
        return "gain", np.array([float(scores.get(f"f{i}", 0.0)) for i in range(n_features)])
    if model_type == "lightgbm":
        return "gain", np.asarray(model.booster_.feature_importance(importance_type="gain"), dtype=np.float64)
    if model_type == "random_forest":
        return "impurity", np.asarray(model.feature_importances_, dtype=np.float64)
    if model_type in LINEAR:
        coef = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))
        if coef.shape[0] == 1:
            return "coefficient", coef[0]
        return "mean_abs_coefficient", np.mean(np.abs(coef), axis=0)
    return None


def permutation_seed(random_state: int) -> int:
    """The one seed scikit-learn draws from ``random_state`` for every feature's shuffles."""
    return int(np.random.RandomState(random_state).randint(np.iinfo(np.int32).max + 1))


def permutation_scores(model: Any, x: NDArray[np.float64], y: NDArray[Any], column: int, seed: int,
                       n_repeats: int) -> NDArray[np.float64]:
    """The model's scores after each of ``n_repeats`` cumulative shuffles of ``column``."""
    state = np.random.RandomState(seed)
    permuted = x.copy()
    order = np.arange(permuted.shape[0])
    scores = []
    for _ in range(n_repeats):
        state.shuffle(order)
        permuted[:, column] = permuted[order, column]
        scores.append(float(model.score(permuted, y)))
    return np.array(scores)


def permutation_importance(
    model: Any, x: NDArray[np.float64], y: NDArray[Any], *, n_repeats: int, random_state: int,
    between: Callable[[int], bool] = lambda _: True,
) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
    """``(means, stds, done)``: score drops per feature, computed while ``between(column)`` allows.

    ``between`` runs before each feature; once it returns False the remaining features are
    NaN and ``done`` says how many were computed.
    """
    n_features = x.shape[1]
    means = np.full(n_features, np.nan)
    stds = np.full(n_features, np.nan)
    seed = permutation_seed(random_state)
    baseline = float(model.score(x, y))
    done = 0
    for column in range(n_features):
        if not between(column):
            break
        drops = baseline - permutation_scores(model, x, y, column, seed, n_repeats)
        means[column], stds[column] = float(np.mean(drops)), float(np.std(drops))
        done += 1
    return means, stds, done


def shap_contributions(model_type: str, model: Any, x: NDArray[np.float64]) -> tuple[NDArray[np.float64],
                                                                                      NDArray[np.float64]]:
    """``(contributions, margin)``: per-row tree SHAP values (last column: the bias) and the raw margin.

    Shapes are ``(rows, features + 1)`` and ``(rows,)``, or ``(rows, classes, features + 1)``
    and ``(rows, classes)`` for multiclass models; contributions sum to the margin.
    """
    if model_type == "xgboost":
        import xgboost

        booster = model.get_booster()
        try:
            limit = (0, int(model.best_iteration) + 1)
        except AttributeError:
            limit = (0, 0)
        matrix = xgboost.DMatrix(x)
        contribs = np.asarray(booster.predict(matrix, pred_contribs=True, iteration_range=limit), dtype=np.float64)
        margin = np.asarray(booster.predict(matrix, output_margin=True, iteration_range=limit), dtype=np.float64)
        return contribs, margin
    if model_type == "lightgbm":
        flat = np.asarray(model.predict(x, pred_contrib=True), dtype=np.float64)
        margin = np.asarray(model.predict(x, raw_score=True), dtype=np.float64)
        if margin.ndim == 2:
            flat = flat.reshape(len(x), margin.shape[1], -1)
        return flat, margin
    raise ValueError(f"no tree SHAP for {model_type!r}")


def mean_abs_shap(contributions: NDArray[np.float64]) -> NDArray[np.float64]:
    """Mean |SHAP| per feature over rows (and classes), the bias column left out."""
    values = np.abs(contributions[..., :-1])
    return np.asarray(values.reshape(-1, values.shape[-1]).mean(axis=0), dtype=np.float64)
