"""Sort policy: which metrics are better when lower, and the best-first key."""

from __future__ import annotations

import pytest

from store.ordering import ascending, best_first_key, is_metric, metric_value


@pytest.mark.parametrize("metric", ["rmse", "mae", "log_loss"])
def test_errors_and_losses_sort_ascending(metric: str) -> None:
    assert ascending(metric) is True


@pytest.mark.parametrize("metric", ["accuracy", "f1", "roc_auc", "precision", "recall", "r2"])
def test_scores_sort_descending(metric: str) -> None:
    assert ascending(metric) is False


def test_an_unknown_metric_is_refused() -> None:
    assert not is_metric("created_at")
    with pytest.raises(ValueError, match="speed"):
        ascending("speed")


def test_the_test_partition_ranks_and_missing_or_odd_values_come_last() -> None:
    rows = {
        "good": {"test": {"accuracy": 0.9}, "train": {"accuracy": 0.1}},
        "bad": {"test": {"accuracy": 0.5}},
        "none": None,
        "text": {"test": {"accuracy": "high"}},
        "flag": {"test": {"accuracy": True}},
    }
    ranked = sorted(rows, key=lambda name: best_first_key("accuracy", rows[name]))
    assert ranked[:2] == ["good", "bad"]
    assert metric_value(rows["text"], "accuracy") is None
    assert metric_value(rows["flag"], "accuracy") is None
    assert metric_value({"test": {"rmse": float("nan")}}, "rmse") is None
