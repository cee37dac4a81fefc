"""Paired bootstrap of metric differences between two models scored on the same rows.

Each resample draws row indices with replacement once and scores both models on those
same rows, so the spread reflects the rows, not two independent draws. Seeded: the same
inputs and seed give the same interval.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

Scorer = Callable[[NDArray[np.intp]], Mapping[str, float | None]]
"""Scores one model on the rows at the given indices: ``{metric: value}``."""


def paired_bootstrap(
    baseline: Scorer, candidate: Scorer, n_rows: int, *, resamples: int, seed: int, confidence: float = 0.95,
    check: Callable[[], None] | None = None,
) -> dict[str, dict[str, float | None]]:
    """``{metric: {difference_low, difference_high, resamples}}`` of ``candidate - baseline``.

    A metric a resample cannot score (e.g. ROC-AUC with one class drawn) skips that resample;
    a metric with fewer than two scored resamples gets no interval (``None`` bounds).
    ``check`` is called every 50 resamples (a cancellation checkpoint).
    """
    rng = np.random.default_rng(seed)
    differences: dict[str, list[float]] = {}
    for index in range(resamples):
        if check is not None and index % 50 == 0:
            check()
        rows = rng.integers(0, n_rows, size=n_rows).astype(np.intp)
        base, cand = baseline(rows), candidate(rows)
        for name, value in cand.items():
            other = base.get(name)
            if value is None or other is None or not np.isfinite(value) or not np.isfinite(other):
                continue
            differences.setdefault(name, []).append(float(value) - float(other))
    tail = (1.0 - confidence) / 2.0 * 100.0
    out: dict[str, dict[str, float | None]] = {}
    for name, values in differences.items():
        if len(values) < 2:
            out[name] = {"difference_low": None, "difference_high": None, "resamples": float(len(values))}
            continue
        low, high = np.percentile(np.asarray(values), [tail, 100.0 - tail])
        out[name] = {"difference_low": float(low), "difference_high": float(high), "resamples": float(len(values))}
    return out


def summarize(
    baseline: Mapping[str, Any], candidate: Mapping[str, Any], intervals: Mapping[str, Mapping[str, float | None]]
) -> dict[str, dict[str, Any]]:
    """Per metric: both values, the difference, its interval and whether the interval excludes 0."""
    out: dict[str, dict[str, Any]] = {}
    for name, interval in intervals.items():
        base, cand = baseline.get(name), candidate.get(name)
        if not isinstance(base, int | float) or not isinstance(cand, int | float):
            continue
        low, high = interval.get("difference_low"), interval.get("difference_high")
        significant = low is not None and high is not None and (low > 0 or high < 0)
        out[name] = {"baseline": float(base), "value": float(cand), "difference": float(cand) - float(base),
                     "ci_low": low, "ci_high": high, "significant": significant}
    return out
