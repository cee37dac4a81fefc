"""Evaluating stored model versions on the same rows: what a validation job computes.

The rows are the pipeline's test partition (re-derived exactly as training split it, from
the pipeline's dataset and the training node's plan) or another dataset with the same
feature columns. Each version's artifact (a plain scikit-learn ``Pipeline`` that predicts
from raw rows, :mod:`actors.ml.portable`) predicts them; the metrics are the training
job's own (:mod:`actors.ml.metrics`), the curves the insight stage's
(:mod:`actors.ml.diagnostics`), and every later version is compared with the first by a
seeded paired bootstrap (:mod:`actors.ml.bootstrap`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from actors.errors import DatasetError, InvalidNodeConfig
from actors.ml.artifacts import load_model_file
from actors.ml.bootstrap import paired_bootstrap, summarize
from actors.ml.checkpoints import Checkpoint
from actors.ml.data_checks import aligned, check_columns, check_values
from actors.ml.dataset import load_dataset
from actors.ml.diagnostics import classification_curves, regression_residuals
from actors.ml.families import CLASSIFICATION
from actors.ml.metrics import classification_metrics, regression_metrics
from actors.ml.options import DatasetRef, FitOptions
from actors.ml.prepare import execute_plan
from actors.ml.validation import validate_job
from actors.ml.warncapture import FIT_LOCK

SCALAR_METRICS = {
    "classification": ("accuracy", "f1", "precision", "recall", "roc_auc", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}


@dataclass(frozen=True)
class VersionInput:
    """One model version to evaluate: its number, the reference it was asked by, its artifact."""

    version: int
    ref: str
    job_id: str
    model_type: str
    artifact_path: str
    artifact_sha256: str
    trained_metrics: Mapping[str, Any]


@dataclass(frozen=True)
class EvaluationInputs:
    """What a validation job evaluates.

    Attributes:
        graph: The pipeline graph (its training node's plan re-derives the test partition).
        train_node_id: The ``train_model`` node whose versions are evaluated.
        pipeline_dataset: The pipeline's dataset (training rows, and the test partition).
        dataset: Another dataset to evaluate on; None for the test partition.
        versions: The versions, the first one the baseline of the comparisons.
        resamples: Bootstrap resamples.
        seed: Bootstrap seed.
    """

    graph: Any
    train_node_id: str
    pipeline_dataset: DatasetRef
    dataset: DatasetRef | None
    versions: list[VersionInput]
    resamples: int
    seed: int


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _target(versions: list[VersionInput]) -> tuple[str, str]:
    pairs = {(str(v.trained_metrics.get("target")), str(v.trained_metrics.get("task"))) for v in versions}
    if len(pairs) != 1:
        raise InvalidNodeConfig("the versions predict different targets or tasks; compare versions of one target",
                                field="config.versions", details={"targets": sorted(p[0] for p in pairs)})
    return next(iter(pairs))


def _rows(inputs: EvaluationInputs, options: FitOptions, checkpoint: Checkpoint, target: str
          ) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """(training rows, rows to evaluate, warnings), both raw as read from their files."""
    loaded = load_dataset(inputs.pipeline_dataset, options)
    job = validate_job(inputs.graph, inputs.train_node_id, list(loaded.frame.columns), options=options)
    parts = execute_plan(job.plan, loaded.frame, job.target, options, checkpoint)
    warnings = list(loaded.warnings)
    train = loaded.frame.loc[parts.train.index.unique()]
    if inputs.dataset is None:
        return train, loaded.frame.loc[parts.test.index], warnings
    other = load_dataset(inputs.dataset, options)
    warnings.extend(other.warnings)
    if target not in other.frame.columns:
        raise DatasetError(f"the dataset has no target column {target!r}: metrics need the true values",
                           field="config.dataset_source_id", details={"target": target})
    return train, other.frame, warnings


def _predict(model: Any, frame: pd.DataFrame, task: str) -> tuple[NDArray[Any], NDArray[np.float64] | None]:
    predicted = np.asarray(model.predict(frame))
    proba = np.asarray(model.predict_proba(frame), dtype=np.float64) if task == CLASSIFICATION else None
    return predicted, proba


def _scorer(task: str, y_true: NDArray[Any], predicted: NDArray[Any], proba: NDArray[np.float64] | None,
            classes: NDArray[Any] | None) -> Callable[[NDArray[np.intp]], dict[str, float | None]]:
    names = SCALAR_METRICS[task]

    def score(rows: NDArray[np.intp]) -> dict[str, float | None]:
        if task == CLASSIFICATION:
            assert proba is not None
            assert classes is not None
            metrics, _problems = classification_metrics(y_true[rows], predicted[rows], proba[rows], classes)
        else:
            metrics = regression_metrics(y_true[rows], predicted[rows])
        return {name: metrics.get(name) for name in names}

    return score


def _curves(task: str, y_true: NDArray[Any], predicted: NDArray[Any], proba: NDArray[np.float64] | None,
            classes: NDArray[Any] | None, seed: int) -> dict[str, Any]:
    if task != CLASSIFICATION:
        return {"residuals": regression_residuals(y_true.astype(np.float64), predicted.astype(np.float64), seed)}
    assert proba is not None
    assert classes is not None
    known = np.isin(y_true, classes)
    if not known.all():
        return {}  # labels the model never saw have no column of probabilities to draw
    return classification_curves(np.searchsorted(classes, y_true), proba, classes)


def evaluate_versions(
    inputs: EvaluationInputs, options: FitOptions, *,
    should_stop: Callable[[], str | None], on_progress: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """The validation report of ``inputs`` (see docs/validation.md for its shape).

    Raises:
        ModelError: a subclass naming the failure (``JobCancelled``/``DeadlineExceeded``
            when ``should_stop`` fired); data problems are warnings in the report instead.
    """
    with FIT_LOCK:
        return _evaluate(inputs, options, Checkpoint(should_stop, on_progress))


def _evaluate(inputs: EvaluationInputs, options: FitOptions, checkpoint: Checkpoint) -> dict[str, Any]:
    started = time.time()
    total = len(inputs.versions) * 2 + 1
    checkpoint.progress("load", 0, total, "steps")
    target, task = _target(inputs.versions)
    train, frame, warnings = _rows(inputs, options, checkpoint, target)
    checkpoint.check("after loading")
    missing_target = frame[target].isna()
    if missing_target.any():
        warnings.append({"code": "missing_target_dropped", "rows": int(missing_target.sum()),
                         "message": f"{int(missing_target.sum())} row(s) without a value in {target!r} are left out"})
        frame = frame.loc[~missing_target]
    if len(frame) == 0:
        raise DatasetError("no rows to evaluate", field="config.dataset_source_id")
    warnings.extend(check_columns(train, frame, target))
    warnings.extend(check_values(train, frame, target))
    features = aligned(frame, train, target)
    y_true = frame[target].to_numpy()
    checkpoint.progress("predict", 1, total, "steps")
    results: list[dict[str, Any]] = []
    scored: list[tuple[dict[str, Any], Callable[[NDArray[np.intp]], dict[str, float | None]]]] = []
    for index, version in enumerate(inputs.versions):
        checkpoint.check(f"version {version.version}")
        entry: dict[str, Any] = {"version": version.version, "ref": version.ref, "job_id": version.job_id,
                                 "model_type": version.model_type}
        try:
            model = load_model_file(version.artifact_path, version.artifact_sha256)
            predicted, proba = _predict(model, features, task)
        except Exception as exc:  # one version that cannot predict these rows must not sink the others
            message = f"version {version.version} could not predict these rows: {type(exc).__name__}: {exc}"
            entry["error"] = message
            warnings.append({"code": "version_failed", "version": version.version, "message": message})
            results.append(entry)
            continue
        classes = np.asarray(model.classes_) if task == CLASSIFICATION else None
        if task == CLASSIFICATION:
            assert proba is not None
            assert classes is not None
            metrics, problems = classification_metrics(y_true, predicted, proba, classes)
            entry["problems"] = problems
        else:
            y_true = y_true.astype(np.float64)
            metrics = regression_metrics(y_true, predicted.astype(np.float64))
        entry["metrics"] = {k: _plain(v) for k, v in metrics.items()}
        entry["curves"] = _curves(task, y_true, predicted, proba, classes, inputs.seed)
        results.append(entry)
        scored.append((entry, _scorer(task, y_true, predicted, proba, classes)))
        checkpoint.progress("predict", 2 + index, total, "steps")
    comparisons = []
    if scored:
        base_entry, base_score = scored[0]
        for entry, score in scored[1:]:
            checkpoint.check("bootstrap")
            intervals = paired_bootstrap(base_score, score, len(y_true), resamples=inputs.resamples,
                                         seed=inputs.seed, check=lambda: checkpoint.check("bootstrap"))
            comparisons.append({"baseline": base_entry["version"], "version": entry["version"],
                                "metrics": summarize(base_entry["metrics"], entry["metrics"], intervals)})
    checkpoint.progress("compare", total, total, "steps")
    return {
        "task": task,
        "target": target,
        "rows": len(y_true),
        "data": {"source": "test_partition" if inputs.dataset is None else "dataset",
                 "training_rows": len(train)},
        "metric_names": list(SCALAR_METRICS[task]),
        "versions": results,
        "comparisons": comparisons,
        "bootstrap": {"resamples": inputs.resamples, "seed": inputs.seed, "confidence": 0.95, "paired": True},
        "warnings": warnings,
        "generated_at": started,
    }
