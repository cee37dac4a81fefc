"""The run entry point: one training job from dataset file to fitted pipeline and metrics."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pandas.api.types as ptypes
from numpy.typing import NDArray

from actors.errors import InvalidGraph, InvalidNodeConfig, ModelError, TrainingError
from actors.ml.allocator import pin_allocator_thresholds
from actors.ml.checkpoints import Checkpoint
from actors.ml.curves import CurveLog
from actors.ml.dataset import load_dataset
from actors.ml.estimators import CURVE_FAMILIES, PREDICT_IS_ARGMAX, build_estimator, fit_estimator
from actors.ml.explain import ExplainInputs, ExplainLimits, explain_model
from actors.ml.families import CLASSIFICATION, REGRESSION, resolve_hyperparameters
from actors.ml.fit_curves import FitMonitor
from actors.ml.fitted_pipeline import FittedPipeline
from actors.ml.holdout import carve_validation, encoded_held_out
from actors.ml.metrics import classification_metrics, detect_task, regression_metrics
from actors.ml.model_card import model_card
from actors.ml.node_types import RESAMPLE, SPLIT
from actors.ml.options import DatasetRef, FitOptions
from actors.ml.portable import input_columns, portable_pipeline
from actors.ml.prepare import Partitions, execute_plan
from actors.ml.steps import is_numeric
from actors.ml.validation import PlannedNode, ValidatedJob, validate_job
from actors.ml.warncapture import FIT_LOCK, recorded_warnings


@dataclass
class TrainingResult:
    """Everything a successful job produced.

    Attributes:
        pipeline: The fitted pipeline that was evaluated.
        metrics: ``{"train", "test", "rows", "features", "target", ...}`` (DESIGN 9)
            plus reproducibility metadata.
        warnings: ``{code, message, node_id?}`` entries to record on the job.
        model_type: Model family.
        task: ``"classification"`` or ``"regression"``.
        resolved_hyperparameters: The hyperparameters the model was fitted with.
        timings: Seconds spent per stage (``load_s``, ``transform_s``, ``fit_s``,
            ``evaluate_s``, ``explain_s``, ``total_s``).
        learning_curve: The fit's learning curve (``actors.ml.curves``), downsampled; None
            for families without one or with curves off.
        insights: What the explain stage found (``feature_importance``, ``roc``, ``pr``,
            ``calibration``, ``residuals``, ``explain``); None with explain off.
        artifact: The same pipeline as a plain scikit-learn ``Pipeline``
            (:mod:`actors.ml.portable`), to be saved with ``save_artifact``.
        model_card: The model card without its artifact entry (:mod:`actors.ml.model_card`).
    """

    pipeline: FittedPipeline
    metrics: dict[str, Any]
    warnings: list[dict[str, Any]]
    model_type: str
    task: str
    resolved_hyperparameters: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    learning_curve: dict[str, Any] | None = None
    insights: dict[str, Any] | None = None
    artifact: Any = None
    model_card: dict[str, Any] = field(default_factory=dict)


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape a fitted model."""
    import joblib
    import lightgbm
    import sklearn
    import xgboost

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "xgboost": xgboost.__version__, "lightgbm": lightgbm.__version__, "pandas": pd.__version__,
            "numpy": np.__version__, "joblib": joblib.__version__}


def run_training(
    graph: Any,
    node_id: str,
    dataset: DatasetRef,
    options: FitOptions,
    *,
    should_stop: Callable[[], str | None],
    on_progress: Callable[[dict[str, Any]], None],
    pipeline_hash: str | None = None,
    curve: CurveLog | None = None,
) -> TrainingResult:
    """Execute the graph up to ``node_id``, fit the model, evaluate it and explain it.

    Args:
        graph: The pipeline graph JSON.
        node_id: The ``train_model`` node to run.
        dataset: The dataset file.
        options: Fit options.
        should_stop: Returns None to continue, ``"cancelled"`` or ``"timeout"`` to stop;
            checked between nodes and inside every fit.
        on_progress: Receives ``{stage, completed, total, unit}``.
        pipeline_hash: Recorded in the metrics for reproducibility.
        curve: Receives the learning curve's points as the fit makes them (with
            ``options.curves``); the caller may stream them while the fit runs.

    Raises:
        ModelError: a subclass naming the failure (``JobCancelled``/``DeadlineExceeded``
            when ``should_stop`` fired).
    """
    pin_allocator_thresholds()
    try:
        with FIT_LOCK:
            return _run(graph, node_id, dataset, options, Checkpoint(should_stop, on_progress), pipeline_hash,
                        curve if curve is not None else CurveLog())
    except ModelError as exc:
        if "node_id" not in exc.details and (exc.field is None or exc.field.startswith("config")):
            exc.details["node_id"] = node_id  # errors about the training node's own config
        raise
    except Exception as exc:  # anything else is a failure of the fit, reported with its type
        raise TrainingError(
            f"training node {node_id!r}: {type(exc).__name__}: {exc}",
            field="config", details={"node_id": node_id, "exception": type(exc).__name__},
        ) from exc


def _run(
    graph: Any, node_id: str, dataset: DatasetRef, options: FitOptions, checkpoint: Checkpoint,
    pipeline_hash: str | None, curve: CurveLog,
) -> TrainingResult:
    started = time.perf_counter()
    validate_job(graph, node_id, None, options=options)
    checkpoint.check("start")
    checkpoint.progress("load", 0, 1, "datasets")
    loaded = load_dataset(dataset, options)
    checkpoint.progress("load", 1, 1, "datasets")
    job = validate_job(graph, node_id, list(loaded.frame.columns), options=options)
    warnings = [*loaded.warnings, *job.warnings]
    task = _task(job, loaded.frame, warnings)
    hyperparameters = resolve_hyperparameters(job.model_type, job.train_config["hyperparameters"], task,
                                              random_state=options.random_state, n_jobs=options.n_jobs)
    loaded_at = time.perf_counter()
    parts = execute_plan(job.plan, loaded.frame, job.target, options, checkpoint)
    warnings.extend(parts.warnings)
    features = _features(parts, job.target, job.plan[-1])
    x_train = parts.train[features].to_numpy(dtype=np.float64)
    y_train_raw = _labels(parts.train[job.target], task)
    classes = _classes(y_train_raw) if task == CLASSIFICATION else None
    y_train = np.searchsorted(classes, y_train_raw) if classes is not None else y_train_raw
    x_test = parts.test[features].to_numpy(dtype=np.float64)
    y_test_raw = _labels(parts.test[job.target], task)
    transformed_at = time.perf_counter()
    checkpoint.check("before fit")
    model = build_estimator(job.model_type, task, hyperparameters)
    x_fit, y_fit, monitor, stopping = _fit_plan(job.model_type, hyperparameters, task, classes, options, curve,
                                                 x_train, y_train, x_test, y_test_raw)
    fit_messages = fit_estimator(job.model_type, model, x_fit, y_fit, checkpoint, monitor)
    if stopping is not None:
        stopping["best_iteration"] = _best_round(job.model_type, model)
    warnings.extend({"code": "fit_warning", "node_id": node_id, "message": text} for text in fit_messages)
    fitted_at = time.perf_counter()
    checkpoint.check("before evaluation")
    checkpoint.progress("evaluate", 0, 2, "partitions")
    pipeline = FittedPipeline(parts.steps, features, job.target, task, job.model_type, model, classes)
    scores = {
        "train": _evaluate(pipeline, x_train, y_train_raw, warnings, "train"),
        "test": _evaluate(pipeline, x_test, y_test_raw, warnings, "test"),
    }
    checkpoint.progress("evaluate", 2, 2, "partitions")
    evaluated_at = time.perf_counter()
    insights = None
    if options.explain:
        seed = int(hyperparameters.get("random_state", options.random_state) or 0)
        insights = explain_model(
            ExplainInputs(job.model_type, model, features, classes, x_test, y_test_raw, seed),
            ExplainLimits(options.explain_rows, options.explain_budget_s, options.permutation_repeats), checkpoint)
        if "confusion_matrix" in scores["test"]:
            insights["confusion_matrix"] = scores["test"]["confusion_matrix"]
    finished = time.perf_counter()
    timings = {"load_s": loaded_at - started, "transform_s": transformed_at - loaded_at,
               "fit_s": fitted_at - transformed_at, "evaluate_s": evaluated_at - fitted_at,
               "explain_s": finished - evaluated_at, "total_s": finished - started}
    split = next(node.config for node in job.plan if node.type == SPLIT)
    metrics: dict[str, Any] = {
        **scores,
        "rows": {"train": len(parts.train), "test": len(parts.test), "dataset": loaded.total_rows,
                 "used": len(loaded.frame), "sampled": loaded.sampled},
        "features": features,
        "target": job.target,
        "task": task,
        "model_type": job.model_type,
        "classes": None if classes is None else [c.item() if isinstance(c, np.generic) else c for c in classes],
        "split": {**split, "random_state": options.random_state if split["random_state"] is None
                  else split["random_state"]},
        "pipeline_hash": pipeline_hash,
        "dataset_sha256": loaded.sha256,
        "random_state": hyperparameters.get("random_state", options.random_state),
        "hyperparameters": hyperparameters,
        "library_versions": library_versions(),
        "timings": timings,
        "trained_at": time.time(),
    }
    if stopping is not None:
        metrics["early_stopping"] = stopping
    pipeline.metadata = {key: metrics[key] for key in
                         ("rows", "features", "target", "task", "classes", "split", "pipeline_hash",
                          "dataset_sha256", "random_state", "hyperparameters", "library_versions")}
    card = model_card(metrics, input_columns(loaded.frame, job.target))
    return TrainingResult(pipeline, metrics, warnings, job.model_type, task, hyperparameters, timings,
                          curve.snapshot() if curve.started else None, insights,
                          portable_pipeline(pipeline, loaded.frame), card)


def _fit_plan(
    model_type: str, hyperparameters: dict[str, Any], task: str, classes: NDArray[Any] | None, options: FitOptions,
    curve: CurveLog, x_train: NDArray[np.float64], y_train: NDArray[Any], x_test: NDArray[np.float64],
    y_test_raw: NDArray[Any],
) -> tuple[NDArray[np.float64], NDArray[Any], FitMonitor | None, dict[str, Any] | None]:
    """The rows to fit, what the fit monitors, and the early-stopping record (None when off).

    Early stopping fits on the train rows minus a seeded validation share and stops on that
    share; the test rows are not even handed to the fit. Without it, the fit sees every
    train row and the curve's held-out series scores the test rows, which cannot change it.
    A family that records no curve gets no monitor (nor a copy of the held-out rows).
    """
    rounds = hyperparameters.get("early_stopping_rounds")
    n_classes = 0 if classes is None else len(classes)
    if rounds is None:
        if not options.curves or model_type not in CURVE_FAMILIES:
            return x_train, y_train, None, None
        held = encoded_held_out(x_test, y_test_raw, classes)
        return x_train, y_train, FitMonitor(curve, task, held if len(held[1]) else None, "test",
                                            None, n_classes), None
    fraction = float(hyperparameters["validation_fraction"])
    seed = int(hyperparameters.get("random_state", options.random_state) or 0)
    (x_fit, y_fit), validation = carve_validation(x_train, y_train, fraction, seed, classify=classes is not None)
    if len(validation[1]) == 0 or len(y_fit) == 0:
        raise InvalidNodeConfig("validation_fraction leaves no validation rows or no fit rows",
                                field="hyperparameters.validation_fraction")
    if classes is not None and len(np.unique(y_fit)) < len(classes):
        raise InvalidNodeConfig("the rows left after carving the validation share miss a class; "
                                "lower validation_fraction", field="hyperparameters.validation_fraction")
    monitor = FitMonitor(curve if options.curves else None, task, validation, "validation", int(rounds), n_classes)
    record = {"rounds": int(rounds), "validation_fraction": fraction, "validation_rows": len(validation[1]),
              "fit_rows": len(y_fit), "seed": seed}
    return x_fit, y_fit, monitor, record


def _best_round(model_type: str, model: Any) -> int | None:
    """The number of boosting rounds early stopping kept."""
    if model_type == "xgboost":
        return int(model.best_iteration) + 1
    if model_type == "lightgbm":
        return int(model.best_iteration_) or None
    return None


def _task(job: ValidatedJob, frame: pd.DataFrame, warnings: list[dict[str, Any]]) -> str:
    target = frame[job.target]
    task = job.task
    if task is None:
        task, reason = detect_task(target)
        warnings.append({"code": "task_detected", "message": f"task detected as {task}: {reason}"})
    if task == CLASSIFICATION and job.task is not None and _measured(target):
        raise InvalidNodeConfig(
            f"classification needs classes, but target column {job.target!r} holds non-integer numbers; "
            "choose regression or leave the task blank", field="config.task", details={"column": job.target})
    if task == REGRESSION:
        if not is_numeric(target):
            raise InvalidNodeConfig(f"regression needs a numeric target; {job.target!r} is not numeric",
                                    field="config.task")
        resample = next((node for node in job.plan if node.type == RESAMPLE), None)
        if resample is not None:
            raise InvalidGraph(f"{RESAMPLE} balances classes and needs a classification task",
                               field=f"{resample.prefix}.method", details={"node_id": resample.id})
    return task


def _measured(target: pd.Series) -> bool:
    """Whether a target holds non-integer numbers (which no classifier takes as classes)."""
    if not is_numeric(target) or ptypes.is_bool_dtype(target.dtype):
        return False
    values = target.dropna().to_numpy(dtype=np.float64)
    return not bool(np.all(np.mod(values, 1.0) == 0.0))


def _features(parts: Partitions, target: str, train: PlannedNode) -> list[str]:
    features = [name for name in parts.train.columns if name != target]
    where = train.path or "graph.nodes"
    if not features:
        raise InvalidGraph(f"no feature columns reach training node {train.id!r}", field=where,
                           details={"node_id": train.id})
    wrong = [name for name in features if not is_numeric(parts.train[name])]
    if wrong:
        raise InvalidGraph(f"feature column(s) {wrong} reach training node {train.id!r} as text; add an encode "
                           "node before it, or drop them", field=where,
                           details={"node_id": train.id, "column": wrong[0], "columns": wrong})
    return features


def _labels(column: pd.Series, task: str) -> NDArray[Any]:
    if task == REGRESSION:
        values: NDArray[Any] = column.to_numpy(dtype=np.float64)
    elif is_numeric(column):
        values = column.to_numpy()
    else:
        values = column.astype(str).to_numpy()
    return values


def _classes(labels: NDArray[Any]) -> NDArray[Any]:
    classes = np.unique(labels)
    if len(classes) < 2:
        raise InvalidNodeConfig("classification needs at least two classes in the train rows",
                                field="config.target", details={"classes": [str(c) for c in classes]})
    return classes


def _evaluate(
    pipeline: FittedPipeline, x: NDArray[np.float64], y_true: NDArray[Any], warnings: list[dict[str, Any]],
    partition: str,
) -> dict[str, Any]:
    with recorded_warnings() as caught:
        model = pipeline.model
        if pipeline.classes is None:
            scores = regression_metrics(y_true, np.asarray(model.predict(x), dtype=np.float64))
            problems: list[str] = []
        else:
            proba = np.asarray(model.predict_proba(x), dtype=np.float64)
            indices = np.argmax(proba, axis=1) if pipeline.model_type in PREDICT_IS_ARGMAX else model.predict(x)
            predicted = pipeline.classes[np.asarray(indices, dtype=np.intp)]
            scores, problems = classification_metrics(y_true, predicted, proba, pipeline.classes)
    # XGBoost returns float32 probabilities whose float64 row sums miss 1 by ~1e-7.
    problems.extend(str(item.message) for item in caught if "do not sum to one" not in str(item.message))
    warnings.extend({"code": "metric_warning", "message": f"{partition}: {text}"} for text in dict.fromkeys(problems))
    return scores
