"""Sort orders of listings: creation time, or a test metric in its right direction.

Pure policy: which metrics are better when lower, and the sort key of a metrics object.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

LOWER_IS_BETTER = frozenset({"rmse", "mae", "log_loss"})
HIGHER_IS_BETTER = frozenset({"accuracy", "f1", "roc_auc", "precision", "recall", "r2"})
METRICS = LOWER_IS_BETTER | HIGHER_IS_BETTER
METRIC_PARTITION = "test"
"""Listings rank by the held-out (test) score, never the training score."""


def is_metric(order_by: str) -> bool:
    """Whether ``order_by`` names a metric (rather than a column such as ``created_at``)."""
    return order_by in METRICS


def ascending(metric: str) -> bool:
    """Whether ``metric`` is best when smallest (RMSE, MAE, log loss)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    return metric in LOWER_IS_BETTER


def metric_value(metrics: Mapping[str, Any] | None, metric: str) -> float | None:
    """The test-partition value of ``metric``, or None when absent or not a finite number."""
    if not metrics:
        return None
    partition = metrics.get(METRIC_PARTITION)
    if not isinstance(partition, Mapping):
        return None
    value = partition.get(metric)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def best_first_key(metric: str, metrics: Mapping[str, Any] | None) -> tuple[int, float]:
    """A sort key putting the best value of ``metric`` first and rows without it last."""
    value = metric_value(metrics, metric)
    if value is None:
        return (1, 0.0)
    return (0, value if ascending(metric) else -value)
