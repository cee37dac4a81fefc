"""Contract fidelity: pipeline lineage, the submission hash of idempotent jobs, settled progress.

- ``pipeline_lineage``: which pipeline replaced which (orphan jobs of deleted nodes).
- ``training_jobs.request_sha256``: the canonical-JSON hash of a submission, so a reused
  idempotency key with another body is refused (NULL on older jobs: not compared).
- Finished jobs keep no partial progress: a succeeded job's progress becomes complete, a
  failed or cancelled job's is cleared (what ``store.jobs.transition`` now writes).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pipeline_lineage",
        sa.Column("pipeline_id", sa.String(length=128), nullable=False),
        sa.Column("previous_pipeline_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipelines.pipeline_id"],
            name=op.f("fk_pipeline_lineage_pipeline_id_pipelines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["previous_pipeline_id"],
            ["pipelines.pipeline_id"],
            name=op.f("fk_pipeline_lineage_previous_pipeline_id_pipelines"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pipeline_id", "previous_pipeline_id", name=op.f("pk_pipeline_lineage")),
    )
    op.create_index(
        op.f("ix_pipeline_lineage_previous_pipeline_id"), "pipeline_lineage", ["previous_pipeline_id"]
    )
    with op.batch_alter_table("training_jobs") as batch:
        batch.add_column(sa.Column("request_sha256", sa.String(length=64), nullable=True))
    _settle_progress()


def _settle_progress() -> None:
    jobs = sa.table(
        "training_jobs",
        sa.column("id", sa.String),
        sa.column("status", sa.String),
        sa.column("progress", store.types.JSONType),
    )
    bind = op.get_bind()
    bind.execute(sa.update(jobs).where(jobs.c.status.in_(["failed", "cancelled"])).values(progress=None))
    rows = bind.execute(sa.select(jobs.c.id, jobs.c.progress).where(jobs.c.status == "succeeded")).all()
    for job_id, progress in rows:
        total = progress.get("total") if isinstance(progress, dict) else None
        settled = {**progress, "completed": total} if isinstance(total, int | float) and total > 0 else None
        if settled != progress:
            bind.execute(sa.update(jobs).where(jobs.c.id == job_id).values(progress=settled))


def downgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_column("request_sha256")
    op.drop_index(op.f("ix_pipeline_lineage_previous_pipeline_id"), table_name="pipeline_lineage")
    op.drop_table("pipeline_lineage")
