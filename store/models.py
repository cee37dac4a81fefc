"""The tables of DESIGN section 4 as typed SQLAlchemy 2 models.

Ids are 36-character UUID strings, JSON columns use :data:`store.types.JSONType` and
timestamps are timezone-aware UTC (:class:`store.types.UTCDateTime`). Defaults are set in
Python, not by the server, so both databases behave the same and migrations stay plain.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.kinds import JobKind
from store.states import JobStatus
from store.types import JSONType, UTCDateTime, new_id, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Stable constraint names, identical on SQLite and PostgreSQL (and in migrations)."""

# BIGINT does not become SQLite's auto-incrementing rowid alias; INTEGER does.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

_STATUS_VALUES = ", ".join(f"'{s.value}'" for s in JobStatus)


class Base(DeclarativeBase):
    """Declarative base carrying the shared :class:`MetaData`."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


class User(Base):
    """A person or service account; admins read every row."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A bearer token; only its sha256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
    """After this instant the token is refused; ``None`` means it never expires."""
    token_prefix: Mapped[str | None] = mapped_column(String(16), index=True)
    """The token's first characters, to list and revoke it by; ``None`` for tokens made before it was kept."""


class DatasetSource(Base):
    """An uploaded dataset file and its schema."""

    __tablename__ = "dataset_sources"
    __table_args__ = (Index("ix_dataset_sources_owner_id_created_at", "owner_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    storage_uri: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))
    n_rows: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[list[Any]]
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The stored form (migration 0006). Rows from before it keep the uploaded file: these
    # are then null and ``format``/``sha256`` describe the stored file too.
    storage_format: Mapped[str | None] = mapped_column(String(16), nullable=True)
    storage_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    stored_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    preview: Mapped[list[Any] | None] = mapped_column(JSONType, nullable=True)


class Pipeline(Base):
    """A saved canvas graph; its id is derived from the dataset and the graph hash."""

    __tablename__ = "pipelines"
    __table_args__ = (
        Index("ix_pipelines_owner_id_created_at", "owner_id", "created_at"),
        Index("ix_pipelines_owner_id_updated_at", "owner_id", "updated_at"),
    )

    pipeline_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    dataset_source_id: Mapped[str] = mapped_column(ForeignKey("dataset_sources.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    graph: Mapped[dict[str, Any]]
    graph_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PipelineLineage(Base):
    """``pipeline_id`` replaced ``previous_pipeline_id``: a save changed the canvas's data path.

    A graph edit that changes the data path (deleting a training node included) gives the
    pipeline a new id; this link lets the new pipeline find the jobs of nodes it no longer
    has. A pipeline can replace several (the canvas may go back and forth), so it is a table.
    """

    __tablename__ = "pipeline_lineage"

    pipeline_id: Mapped[str] = mapped_column(
        ForeignKey("pipelines.pipeline_id", ondelete="CASCADE"), primary_key=True
    )
    previous_pipeline_id: Mapped[str] = mapped_column(
        ForeignKey("pipelines.pipeline_id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TrainingJob(Base):
    """One training run of one ``train_model`` node. Its status changes only via ``store.jobs.transition``."""

    __tablename__ = "training_jobs"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUS_VALUES})", name="status"),
        UniqueConstraint("user_id", "idempotency_key"),
        Index("ix_training_jobs_user_id_created_at", "user_id", "created_at"),
        Index("ix_training_jobs_pipeline_id_node_id", "pipeline_id", "node_id"),
        Index("ix_training_jobs_status_admitted_at_user_id", "status", "admitted_at", "user_id"),
        Index("ix_training_jobs_user_id_status_admitted_at", "user_id", "status", "admitted_at"),
        Index("ix_training_jobs_created_at_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    pipeline_id: Mapped[str] = mapped_column(ForeignKey("pipelines.pipeline_id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(128))
    dataset_source_id: Mapped[str] = mapped_column(ForeignKey("dataset_sources.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    kind: Mapped[str] = mapped_column(String(32), default=JobKind.TRAINING.value, server_default=JobKind.TRAINING.value)
    """Which actor runs the job (``store.kinds.JobKind``): every kind shares this table's
    statuses, events, quotas and turns."""
    model_type: Mapped[str] = mapped_column(String(64))
    hyperparameters: Mapped[dict[str, Any]]
    resolved_hyperparameters: Mapped[dict[str, Any]]
    config: Mapped[dict[str, Any]]
    graph: Mapped[dict[str, Any]] = mapped_column(default=dict, deferred=True, deferred_raiseload=True)
    """The graph the job runs, as submitted: later edits of the pipeline do not change it.

    Not loaded with the row (read it with :func:`store.job_queries.job_graph`): a 1,000-node
    graph is about 180 KB of JSON, and decoding it on every status read, cancel, transition
    and admission held the web process's event loop for nothing (issue 13)."""
    metrics: Mapped[dict[str, Any] | None]
    warnings: Mapped[list[Any]] = mapped_column(default=list)
    progress: Mapped[dict[str, Any] | None]
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    model_artifact_uri: Mapped[str | None] = mapped_column(Text)
    artifact_sha256: Mapped[str | None] = mapped_column(String(64))
    model_version: Mapped[int | None] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    cancel_requested_at: Mapped[dt.datetime | None]
    heartbeat_at: Mapped[dt.datetime | None]
    worker: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_sha256: Mapped[str | None] = mapped_column(String(64))
    """The sha256 of the submission's canonical JSON, to tell a retry from a reused idempotency key."""
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    admitted_at: Mapped[dt.datetime | None]
    """When the job was given one of its user's running slots (``jobs.max_running_per_user``) and
    its message sent; NULL while it waits for its turn. Kept once it runs: the latest per user
    orders the turns (``store.turns``)."""


class TrainingJobInsights(Base):
    """What a job shows about its model: the learning curve (written while it fits, so a
    reload shows the curve so far) and the explain stage's findings (written with the
    job's success). One row per job, deleted with it."""

    __tablename__ = "training_job_insights"

    job_id: Mapped[str] = mapped_column(ForeignKey("training_jobs.id", ondelete="CASCADE"), primary_key=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    learning_curve: Mapped[dict[str, Any] | None]
    insights: Mapped[dict[str, Any] | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TrainingJobEvent(Base):
    """One persisted event of a job; append-only. ``payload`` is the complete event as published."""

    __tablename__ = "training_job_events"
    __table_args__ = (UniqueConstraint("job_id", "seq"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("training_jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ModelVersion(Base):
    """A trained model of one node; versions count 1, 2, 3 ... per (pipeline, node) without gaps."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("pipeline_id", "node_id", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    pipeline_id: Mapped[str] = mapped_column(ForeignKey("pipelines.pipeline_id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[str] = mapped_column(ForeignKey("training_jobs.id", ondelete="CASCADE"), unique=True)
    model_type: Mapped[str] = mapped_column(String(64))
    hyperparameters: Mapped[dict[str, Any]]
    metrics: Mapped[dict[str, Any]]
    artifact_uri: Mapped[str] = mapped_column(Text)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[dt.datetime | None]
    """Set when the version was deleted: the row stays as a tombstone (the number is never reused)."""
    deleted_by: Mapped[str | None] = mapped_column(String(255))


class ModelVersionCounter(Base):
    """The last version number handed out per (pipeline, node): the race-safe version sequence."""

    __tablename__ = "model_version_counters"

    pipeline_id: Mapped[str] = mapped_column(ForeignKey("pipelines.pipeline_id", ondelete="CASCADE"), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    last_version: Mapped[int] = mapped_column(Integer)


class ModelAlias(Base):
    """A named pointer (e.g. ``active``) to one version of a node's model."""

    __tablename__ = "model_aliases"
    __table_args__ = (
        ForeignKeyConstraint(
            ["pipeline_id", "node_id", "version"],
            ["model_versions.pipeline_id", "model_versions.node_id", "model_versions.version"],
            ondelete="CASCADE",
        ),
    )

    pipeline_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(255))


class ModelAliasHistory(Base):
    """Append-only log of alias changes: set (``previous_version`` NULL), moved, removed (``version`` NULL)."""

    __tablename__ = "model_alias_history"
    __table_args__ = (
        Index("ix_model_alias_history_pipeline_id_node_id_alias_id", "pipeline_id", "node_id", "alias", "id"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    pipeline_id: Mapped[str] = mapped_column(ForeignKey("pipelines.pipeline_id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(128))
    alias: Mapped[str] = mapped_column(String(64))
    version: Mapped[int | None] = mapped_column(Integer)
    previous_version: Mapped[int | None] = mapped_column(Integer)
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    changed_by: Mapped[str | None] = mapped_column(String(255))
