"""Row -> JSON conversion, in one place for the REST views and the websocket hub.

Every function returns JSON-ready data (ISO 8601 timestamps, plain dicts and lists) that
validates against the matching response schema of :mod:`server.schemas`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from store.job_view import JobRow
from store.models import DatasetSource, ModelVersion, Pipeline, TrainingJob, TrainingJobEvent


def iso(value: dt.datetime | None) -> str | None:
    """A timestamp as ISO 8601 in UTC; naive values are taken to be UTC already."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat()


def hand_off(job_id: str, model_version: int | None, artifact_uri: str | None) -> dict[str, Any]:
    """The output object a validation node consumes."""
    return {"job_id": job_id, "model_version": model_version, "model_artifact_uri": artifact_uri}


ADMIN_ONLY_EVENT_KEYS = frozenset({"worker"})
"""Event fields only admins receive: the worker's identity (``host:pid``) is operator data."""


def event_for(event: Mapping[str, Any], *, is_admin: bool) -> dict[str, Any]:
    """A job event (as persisted and published) as one reader may see it."""
    if is_admin:
        return dict(event)
    return {key: value for key, value in event.items() if key not in ADMIN_ONLY_EVENT_KEYS}


def job_json(job: TrainingJob | JobRow, *, is_admin: bool = False) -> dict[str, Any]:
    """A training job (an ORM row or a :class:`~store.job_view.JobRow`) as clients see it.

    Field names of DESIGN 9; ``worker`` only for admins.
    """
    has_version = job.model_version is not None
    out = {
        "id": job.id,
        "status": job.status,
        "kind": job.kind,
        "pipeline_id": job.pipeline_id,
        "node_id": job.node_id,
        "dataset_source_id": job.dataset_source_id,
        "user_id": job.user_id,
        "model_type": job.model_type,
        "hyperparameters": dict(job.hyperparameters or {}),
        "resolved_hyperparameters": job.resolved_hyperparameters,
        "config": dict(job.config or {}),
        "progress": job.progress,
        "metrics": job.metrics,
        "warnings": list(job.warnings or []),
        "error_code": job.error_code,
        "error_message": job.error_message,
        "model_version": job.model_version,
        "model_artifact_uri": job.model_artifact_uri,
        "artifact_sha256": job.artifact_sha256,
        "attempt": job.attempt,
        "cancel_requested": job.cancel_requested_at is not None,
        "last_seq": job.last_seq,
        "output": hand_off(job.id, job.model_version, job.model_artifact_uri) if has_version else None,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "updated_at": iso(job.updated_at),
    }
    if is_admin:
        out["worker"] = job.worker
    return out


def jobs_json(jobs: Iterable[TrainingJob], *, is_admin: bool = False) -> list[dict[str, Any]]:
    """Several jobs, in order."""
    return [job_json(job, is_admin=is_admin) for job in jobs]


def event_json(event: TrainingJobEvent) -> dict[str, Any]:
    """One persisted event of a job's audit trail."""
    return {
        "job_id": event.job_id,
        "seq": event.seq,
        "type": event.type,
        "payload": dict(event.payload or {}),
        "created_at": iso(event.created_at),
    }


def pipeline_json(pipeline: Pipeline) -> dict[str, Any]:
    """A saved pipeline and its graph."""
    return {
        "pipeline_id": pipeline.pipeline_id,
        "name": pipeline.name,
        "dataset_source_id": pipeline.dataset_source_id,
        "owner_id": pipeline.owner_id,
        "graph": pipeline.graph,
        "graph_hash": pipeline.graph_hash,
        "created_at": iso(pipeline.created_at),
        "updated_at": iso(pipeline.updated_at),
    }


def dataset_json(dataset: DatasetSource) -> dict[str, Any]:
    """A dataset's metadata and schema."""
    return {
        "id": dataset.id,
        "name": dataset.name,
        "format": dataset.format,
        "n_rows": dataset.n_rows,
        "columns": [{"name": str(col["name"]), "dtype": str(col["dtype"])} for col in dataset.columns],
        "sha256": dataset.sha256,
        "created_at": iso(dataset.created_at),
    }


def version_json(version: ModelVersion, aliases: Iterable[str] = ()) -> dict[str, Any]:
    """A model version, its aliases and its hand-off object."""
    return {
        "pipeline_id": version.pipeline_id,
        "node_id": version.node_id,
        "version": version.version,
        "job_id": version.job_id,
        "model_type": version.model_type,
        "hyperparameters": dict(version.hyperparameters or {}),
        "metrics": dict(version.metrics or {}),
        "artifact_uri": version.artifact_uri,
        "artifact_sha256": version.artifact_sha256,
        "created_at": iso(version.created_at),
        "deleted_at": iso(version.deleted_at),
        "aliases": sorted(aliases),
        "output": hand_off(version.job_id, version.version, version.artifact_uri),
    }
