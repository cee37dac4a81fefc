"""The explain stage after the fit: what the model relies on and how its errors look.

Bounded three ways: a seeded sample of at most ``explain_rows`` test rows for the costly
parts (SHAP, permutation importance), a time budget (``explain_budget_s``) checked between
parts and between features, and the job's checkpoint (cancel and deadline). Parts run from
cheap to costly, so a tight budget drops permutation importance first; what was skipped
is recorded in ``explain.skipped`` and a partial permutation run keeps its finished
features (the rest are null) with ``explain.complete`` false.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from actors.ml.checkpoints import Checkpoint
from actors.ml.diagnostics import classification_curves, regression_residuals
from actors.ml.holdout import encoded_held_out
from actors.ml.importance import (
    SHAP_FAMILIES,
    library_importance,
    mean_abs_shap,
    permutation_importance,
    shap_contributions,
)


@dataclass(frozen=True)
class ExplainInputs:
    """The fitted model and the test rows it is explained on.

    Attributes:
        model_type: Model family.
        model: The fitted library estimator (labels encoded as class indices).
        features: Feature names, in column order.
        classes: Sorted class labels, or None for regression.
        x_test: Test features.
        y_test: Test labels as in the dataset (not encoded).
        random_state: Seed for the row sample and the permutations.
    """

    model_type: str
    model: Any
    features: list[str]
    classes: NDArray[Any] | None
    x_test: NDArray[np.float64]
    y_test: NDArray[Any]
    random_state: int


@dataclass(frozen=True)
class ExplainLimits:
    """``rows``: sample size; ``budget_s``: time budget; ``repeats``: permutation repeats."""

    rows: int = 2000
    budget_s: float = 60.0
    repeats: int = 5


def sample_rows(n: int, limit: int, seed: int) -> NDArray[np.intp]:
    """The sorted rows of a seeded sample of at most ``limit`` out of ``n``."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def explain_model(inputs: ExplainInputs, limits: ExplainLimits, checkpoint: Checkpoint,
                  clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Run the explain stage; returns the insights to store with the job.

    Raises:
        JobStopped: when the checkpoint fires (between parts or between features).
    """
    started = clock()
    deadline = started + limits.budget_s
    x, y = encoded_held_out(inputs.x_test, inputs.y_test, inputs.classes)
    rows = sample_rows(len(y), limits.rows, inputs.random_state)
    xs, ys = x[rows], y[rows]
    n_features = len(inputs.features)
    total = 3 + n_features
    step = 0
    skipped: list[str] = []
    table: dict[str, dict[str, Any]] = {name: {"feature": name} for name in inputs.features}
    out: dict[str, Any] = {}

    def advance(where: str) -> bool:
        nonlocal step
        checkpoint.check(f"explain: {where}")
        checkpoint.progress("explain", step, total, "steps")
        step += 1
        return clock() < deadline

    if advance("library importance"):
        found = library_importance(inputs.model_type, inputs.model, n_features)
        if found is not None:
            kind, values = found
            for name, value in zip(inputs.features, values, strict=True):
                table[name][kind] = _num(value)
    else:
        skipped.append("library_importance")
    if advance("diagnostics"):
        if len(y) > 0:
            out.update(_diagnostics(inputs, x, y))
    else:
        skipped.append("diagnostics")
    shap_rows = 0
    if inputs.model_type in SHAP_FAMILIES:
        if advance("shap"):
            means, shap_rows = _chunked_shap(inputs, xs, checkpoint, lambda: clock() < deadline, clock)
            if shap_rows:
                for name, value in zip(inputs.features, means, strict=True):
                    table[name]["shap_mean_abs"] = _num(value)
            if shap_rows < len(xs):
                skipped.append("shap" if shap_rows == 0 else "shap (partial)")
        else:
            skipped.append("shap")
    else:
        step += 1
    done = 0
    if len(ys) > 1:
        means, stds, done = permutation_importance(
            inputs.model, xs, ys, n_repeats=limits.repeats, random_state=inputs.random_state,
            between=lambda column: advance(f"permutation of {inputs.features[column]}"))
        for name, mean, std in zip(inputs.features, means, stds, strict=True):
            table[name]["permutation_mean"] = _num(mean)
            table[name]["permutation_std"] = _num(std)
    if done < n_features:
        skipped.append("permutation_importance" if done == 0 else "permutation_importance (partial)")
    checkpoint.progress("explain", total, total, "steps")
    out["feature_importance"] = sorted(table.values(), key=_rank)
    out["explain"] = {
        "rows": len(ys), "test_rows": len(y), "shap_rows": shap_rows, "permutation_repeats": limits.repeats,
        "permutation_features": done, "budget_s": limits.budget_s, "seconds": clock() - started,
        "complete": not skipped, "skipped": skipped,
    }
    return out


SHAP_CHUNK_S = 0.25


def _chunked_shap(inputs: ExplainInputs, x: NDArray[np.float64], checkpoint: Checkpoint,
                  in_budget: Callable[[], bool], clock: Callable[[], float]) -> tuple[NDArray[np.float64], int]:
    """Mean |SHAP| over as many sampled rows as the budget allows, in chunks of about ``SHAP_CHUNK_S``.

    Tree SHAP costs rows x trees x leaves x depth²: deep, long boosting runs take seconds per
    hundred rows, so the stop request and the budget are checked between chunks.
    """
    total = np.zeros(x.shape[1])
    done, size = 0, 16
    while done < len(x) and in_budget():
        checkpoint.check("explain: shap")
        started = clock()
        chunk = x[done:done + size]
        contributions, _ = shap_contributions(inputs.model_type, inputs.model, chunk)
        total += mean_abs_shap(contributions) * len(chunk)
        done += len(chunk)
        took = clock() - started
        size = int(max(1, min(4 * size, size * SHAP_CHUNK_S / took))) if took > 0 else 4 * size
    return (total / done if done else total), done


def _diagnostics(inputs: ExplainInputs, x: NDArray[np.float64], y: NDArray[Any]) -> dict[str, Any]:
    if inputs.classes is None:
        predicted = np.asarray(inputs.model.predict(x), dtype=np.float64)
        return {"residuals": regression_residuals(np.asarray(y, dtype=np.float64), predicted, inputs.random_state)}
    proba = np.asarray(inputs.model.predict_proba(x), dtype=np.float64)
    return classification_curves(np.asarray(y, dtype=np.intp), proba, inputs.classes)


def _num(value: Any) -> float | None:
    number = float(value)
    return number if np.isfinite(number) else None


def _rank(row: dict[str, Any]) -> tuple[float, str]:
    for key in ("permutation_mean", "shap_mean_abs", "gain", "impurity", "mean_abs_coefficient"):
        if row.get(key) is not None:
            return (-float(row[key]), row["feature"])
    if row.get("coefficient") is not None:
        return (-abs(float(row["coefficient"])), row["feature"])
    return (0.0, row["feature"])
