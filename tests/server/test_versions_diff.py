"""Comparing two model versions."""

from __future__ import annotations

from server.versions_diff import compare_versions, diff_mappings
from store.models import ModelVersion


def _version(number: int, params: dict[str, object], metrics: dict[str, object]) -> ModelVersion:
    return ModelVersion(
        pipeline_id="p",
        node_id="n",
        version=number,
        job_id=f"j{number}",
        model_type="xgboost",
        hyperparameters=params,
        metrics=metrics,
        artifact_uri="a",
        artifact_sha256="0" * 64,
    )


def test_only_changed_hyperparameters_are_listed_including_added_and_removed_ones() -> None:
    a = _version(1, {"max_depth": 3, "learning_rate": 0.1, "gamma": 0}, {})
    b = _version(2, {"max_depth": 6, "learning_rate": 0.1, "subsample": 0.8}, {})
    diff = compare_versions(a, b)["hyperparameters"]
    assert diff == {
        "max_depth": {"a": 3, "b": 6},
        "gamma": {"a": 0, "b": None},
        "subsample": {"a": None, "b": 0.8},
    }


def test_every_scalar_metric_of_both_partitions_is_listed() -> None:
    a = _version(1, {}, {"train": {"rmse": 1.0}, "test": {"rmse": 2.0, "r2": 0.5}, "features": ["x"]})
    b = _version(2, {}, {"train": {"rmse": 0.5}, "test": {"rmse": 2.0, "curve": [1, 2]}})
    metrics = compare_versions(a, b)["metrics"]
    assert metrics["train"] == {"rmse": {"a": 1.0, "b": 0.5}}
    assert metrics["test"] == {"rmse": {"a": 2.0, "b": 2.0}, "r2": {"a": 0.5, "b": None}}


def test_a_key_present_with_none_on_one_side_only_still_differs() -> None:
    assert diff_mappings({"x": None}, {}, keep_equal=False) == {"x": {"a": None, "b": None}}
