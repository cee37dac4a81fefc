"""Schemas of training jobs, their listings and their audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from server.schemas.common import RequestModel, ResponseModel
from server.schemas.graph import Graph
from server.schemas.reports import ValidateConfigIn
from store.kinds import JobKind
from store.states import JobStatus

ModelType = Literal["logistic_regression", "linear_regression", "random_forest", "xgboost", "lightgbm"]
OrderBy = Literal[
    "created_at", "-created_at", "accuracy", "f1", "roc_auc", "precision", "recall", "log_loss", "rmse", "mae", "r2"
]
ORDER_BY_DESCRIPTION = (
    "`-created_at` (newest first, the default), `created_at`, or a test metric, sorted in its "
    "right direction: `rmse`, `mae`, `log_loss` ascending; `accuracy`, `f1`, `roc_auc`, "
    "`precision`, `recall`, `r2` descending. Rows without the metric come last."
)


class HandOff(ResponseModel):
    """The training node's output object for a downstream validation node."""

    job_id: str
    model_version: int | None
    model_artifact_uri: str | None


class JobOut(ResponseModel):
    """A job as clients see it (a training job, or another kind on the same machinery)."""

    id: str
    status: JobStatus
    kind: JobKind = Field(
        default=JobKind.TRAINING,
        description="What the job does, so which actor runs it: `training` (the default) or `validation`.",
    )
    pipeline_id: str
    node_id: str
    dataset_source_id: str
    user_id: str
    model_type: str
    hyperparameters: dict[str, Any]
    resolved_hyperparameters: dict[str, Any] | None
    config: dict[str, Any]
    progress: dict[str, Any] | None
    metrics: dict[str, Any] | None
    warnings: list[Any]
    error_code: str | None
    error_message: str | None
    model_version: int | None
    model_artifact_uri: str | None
    artifact_sha256: str | None
    attempt: int
    cancel_requested: bool
    last_seq: int
    output: HandOff | None = Field(description="Set once the job succeeded and created a model version.")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    updated_at: dt.datetime | None
    worker: str | None = Field(
        default=None, description="The worker (host:pid) running or last running the job; admins only."
    )
    pipeline_name: str | None = Field(default=None, description="The pipeline's human name (listings, job page).")
    node_label: str | None = Field(default=None, description="The training node's label (listings, job page).")


class JobPage(ResponseModel):
    """One page of jobs; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[JobOut]
    next_cursor: str | None


class JobListQuery(RequestModel):
    """Filters and paging of job listings."""

    pipeline_id: str | None = Field(default=None, min_length=1, max_length=128)
    node_id: str | None = Field(default=None, min_length=1, max_length=128)
    status: list[JobStatus] | None = Field(default=None, description="Repeat the parameter for several statuses.")
    kind: list[JobKind] | None = Field(
        default=None, description="The job's kind (training, validation, predictions); repeat it for several kinds."
    )
    model_type: ModelType | None = None
    tag: str | None = Field(default=None, min_length=1, max_length=200, description="The exact experiment tag.")
    q: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Free text: job, node or pipeline id, pipeline name, model family, tag or description.",
    )
    created_after: dt.datetime | None = Field(default=None, description="Inclusive lower bound (ISO 8601).")
    created_before: dt.datetime | None = Field(default=None, description="Exclusive upper bound (ISO 8601).")
    order_by: OrderBy = Field(default="-created_at", description=ORDER_BY_DESCRIPTION)
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, min_length=1, max_length=500)


class EventsQuery(RequestModel):
    since: int = Field(default=0, ge=0, le=2**31 - 1, description="Return events with `seq` greater than this.")
    limit: int = Field(default=500, ge=1, le=1000)


class EventOut(BaseModel):
    """One persisted event, exactly as it was published (type-specific fields included)."""

    model_config = ConfigDict(extra="allow")

    type: str
    job_id: str
    kind: JobKind | None = Field(default=None, description="The job's kind; absent on events recorded before kinds.")
    pipeline_id: str
    node_id: str
    seq: int
    status: JobStatus
    at: dt.datetime


class EventsOut(ResponseModel):
    job_id: str
    events: list[EventOut]
    last_seq: int = Field(description="The job's newest event number.")


class TrainConfigIn(RequestModel):
    """The ``train_model`` node's config as the form shows it (blank values take defaults)."""

    model_type: str = Field(min_length=1, max_length=64, description="A model family from /model-families.")
    task: str | None = Field(default=None, max_length=32, description="`classification` or `regression`.")
    target: str | None = Field(default=None, max_length=500, description="The target column.")
    hyperparameters: dict[str, Any] = Field(default_factory=dict, description="Library names; blank = default.")
    experiment_tag: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    max_runtime_s: float | str | None = Field(
        default=None,
        description="Whole seconds, at most jobs.max_runtime_limit_s; blank = jobs.default_max_runtime_s.",
    )
    run_now: bool | None = None


def _config_kind(value: Any) -> str:
    """Which form a submitted config is: a validation node's has none of the training keys."""
    if isinstance(value, dict) and "model_type" not in value and set(value) & VALIDATE_KEYS:
        return "ValidateConfigIn"
    if isinstance(value, ValidateConfigIn):
        return "ValidateConfigIn"
    return "TrainConfigIn"


VALIDATE_KEYS = frozenset(ValidateConfigIn.model_fields) - {"max_runtime_s"}
SubmitConfig = Annotated[
    Annotated[TrainConfigIn, Tag("TrainConfigIn")] | Annotated[ValidateConfigIn, Tag("ValidateConfigIn")],
    Discriminator(_config_kind),
]
"""A ``train_model`` or a ``validate_model`` config; errors name the field as ``config.<key>``."""


class SubmitJobIn(RequestModel):
    """The body of ``POST /training-jobs`` (seed 3.2)."""

    dataset_source_id: str = Field(min_length=1, max_length=64)
    node_id: str = Field(
        min_length=1, max_length=128,
        description="The node to run: a `train_model` node (a `training` job) or a `validate_model` node (a "
        "`validation` job that evaluates versions of the `train_model` node feeding it; its report is at "
        "`/training-jobs/{id}/report`).",
    )
    graph: Graph
    config: SubmitConfig | None = Field(
        default=None,
        description="Replaces the node's `data.config` in `graph` (the canvas may not have saved): a `train_model` "
        "config, or a `validate_model` config when `node_id` is a validation node.",
    )
    pipeline_id: str | None = Field(
        default=None, max_length=128,
        description=(
            "What the canvas believes the id is; the server derives the real one and, when they differ, records "
            "that the new pipeline replaced this one (see `orphan_jobs`)."
        ),
    )
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description=(
            "Repeating a submission with this key and the same body returns the first job (202); the same "
            "key with a different body is refused with 422 `idempotency_key_reused`. Bodies are compared as "
            "parsed JSON (key order and whitespace do not matter; every value, layout included, does)."
        ),
    )
