"""The model card: a small JSON document stored beside each artifact.

It says what the artifact needs and what it was measured at, for someone who holds only
the downloaded ``.joblib``: the input columns and their dtypes, the target and classes,
the metrics on both partitions, the hyperparameters, the library versions it was written
with, the sha256 of the training data and of the artifact itself.
"""

from __future__ import annotations

import json
import math
from typing import Any

CARD_FORMAT = "mlw.model-card/1"
CARD_SUFFIX = ".card.json"

_FROM_METRICS = ("model_type", "task", "target", "features", "classes", "hyperparameters", "library_versions",
                 "dataset_sha256", "rows", "split", "random_state", "pipeline_hash", "trained_at")


def model_card(metrics: dict[str, Any], inputs: list[dict[str, str]]) -> dict[str, Any]:
    """The card of a trained model, without its ``artifact`` entry (added once it is written).

    Args:
        metrics: The training result's metrics (DESIGN 9 plus reproducibility metadata).
        inputs: The raw input columns with their pandas dtypes (``actors.ml.portable.input_columns``).
    """
    card: dict[str, Any] = {"format": CARD_FORMAT}
    card.update({key: metrics.get(key) for key in _FROM_METRICS})
    card["inputs"] = inputs
    card["metrics"] = {"train": metrics.get("train", {}), "test": metrics.get("test", {})}
    if "early_stopping" in metrics:
        card["early_stopping"] = metrics["early_stopping"]
    card["usage"] = ("joblib.load(path).predict(frame) with a pandas DataFrame of the input columns; "
                     "predict_proba for classifiers (columns ordered as classes)")
    return card


def with_artifact(card: dict[str, Any], file_name: str, sha256: str) -> dict[str, Any]:
    """The card completed with the artifact it describes."""
    return {**card, "artifact": {"file": file_name, "sha256": sha256, "format": "joblib",
                                 "object": "sklearn.pipeline.Pipeline"}}


def card_relpath(artifact_relpath: str) -> str:
    """Where the card of the artifact at ``artifact_relpath`` is stored."""
    return artifact_relpath.removesuffix(".joblib") + CARD_SUFFIX


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # a metric that could not be computed; JSON has no NaN
    if isinstance(value, dict):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def card_bytes(card: dict[str, Any]) -> bytes:
    """The card as stored: indented UTF-8 JSON with sorted keys (non-finite numbers as null)."""
    return json.dumps(_finite(card), indent=2, sort_keys=True, allow_nan=False, default=str).encode("utf-8")
