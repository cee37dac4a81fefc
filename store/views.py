"""Plain-dict views of store rows with the fixed field names of DESIGN section 9 (JSON-ready)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from store.models import DatasetSource, ModelVersion, Pipeline, TrainingJob


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment is not None else None


def job_view(job: TrainingJob) -> dict[str, Any]:
    """A job as clients see it (``cancel_requested`` is a boolean; timestamps are ISO 8601 UTC)."""
    return {
        "id": job.id,
        "status": job.status,
        "pipeline_id": job.pipeline_id,
        "node_id": job.node_id,
        "dataset_source_id": job.dataset_source_id,
        "user_id": job.user_id,
        "model_type": job.model_type,
        "hyperparameters": job.hyperparameters,
        "resolved_hyperparameters": job.resolved_hyperparameters,
        "config": job.config,
        "progress": job.progress,
        "metrics": job.metrics,
        "warnings": job.warnings,
        "error_code": job.error_code,
        "error_message": job.error_message,
        "model_version": job.model_version,
        "model_artifact_uri": job.model_artifact_uri,
        "artifact_sha256": job.artifact_sha256,
        "attempt": job.attempt,
        "cancel_requested": job.cancel_requested_at is not None,
        "last_seq": job.last_seq,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "updated_at": _iso(job.updated_at),
    }


def version_view(version: ModelVersion) -> dict[str, Any]:
    """A model version as clients see it."""
    return {
        "pipeline_id": version.pipeline_id,
        "node_id": version.node_id,
        "version": version.version,
        "job_id": version.job_id,
        "model_type": version.model_type,
        "hyperparameters": version.hyperparameters,
        "metrics": version.metrics,
        "artifact_uri": version.artifact_uri,
        "artifact_sha256": version.artifact_sha256,
        "created_at": _iso(version.created_at),
    }


def dataset_view(dataset: DatasetSource) -> dict[str, Any]:
    """A dataset as ``POST /datasets`` answers it (plus format and time)."""
    return {
        "id": dataset.id,
        "name": dataset.name,
        "format": dataset.format,
        "n_rows": dataset.n_rows,
        "columns": dataset.columns,
        "sha256": dataset.sha256,
        "created_at": _iso(dataset.created_at),
    }


def pipeline_view(pipeline: Pipeline) -> dict[str, Any]:
    """A saved pipeline with its graph."""
    return {
        "pipeline_id": pipeline.pipeline_id,
        "dataset_source_id": pipeline.dataset_source_id,
        "graph": pipeline.graph,
        "graph_hash": pipeline.graph_hash,
        "created_at": _iso(pipeline.created_at),
        "updated_at": _iso(pipeline.updated_at),
    }
