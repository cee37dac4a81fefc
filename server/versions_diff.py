"""Differences between two model versions: pure functions over their JSON fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from store.models import ModelVersion

PARTITIONS = ("train", "test")


def diff_mappings(a: Mapping[str, Any], b: Mapping[str, Any], *, keep_equal: bool) -> dict[str, dict[str, Any]]:
    """``{key: {"a": ..., "b": ...}}`` over the union of keys; equal values only when ``keep_equal``."""
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(set(a) | set(b)):
        left, right = a.get(key), b.get(key)
        if keep_equal or left != right or (key in a) != (key in b):
            out[key] = {"a": left, "b": right}
    return out


def _scalars(metrics: Mapping[str, Any], partition: str) -> dict[str, Any]:
    part = metrics.get(partition)
    if not isinstance(part, Mapping):
        return {}
    return {k: v for k, v in part.items() if isinstance(v, int | float | str | bool) or v is None}


def compare_versions(a: ModelVersion, b: ModelVersion) -> dict[str, Any]:
    """The ``hyperparameters`` (differences only) and ``metrics`` (every metric) of a comparison."""
    metrics_a, metrics_b = dict(a.metrics or {}), dict(b.metrics or {})
    params_a, params_b = dict(a.hyperparameters or {}), dict(b.hyperparameters or {})
    return {
        "hyperparameters": diff_mappings(params_a, params_b, keep_equal=False),
        "metrics": {
            part: diff_mappings(_scalars(metrics_a, part), _scalars(metrics_b, part), keep_equal=True)
            for part in PARTITIONS
        },
    }
