"""Indexes for the questions every submission asks of ``training_jobs``.

Each submission counts its user's active jobs (``jobs.max_active_per_user``) and, as it may
admit a job (``store.admission``), asks which users have waiting jobs and how many slots
each holds. With only ``(status)`` and ``(user_id, created_at)`` to go by, SQLite read every
queued job's row for these (milliseconds per submission with a few thousand queued jobs,
under the write lock). ``(user_id, status, admitted_at)`` answers the counts from the index
alone; ``(status, admitted_at, user_id)`` lets the waiting users be found one index seek
each, and replaces ``(status)``, which is its prefix.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_training_jobs_user_id_status_admitted_at", "training_jobs", ["user_id", "status", "admitted_at"]
    )
    op.create_index(
        "ix_training_jobs_status_admitted_at_user_id", "training_jobs", ["status", "admitted_at", "user_id"]
    )
    op.drop_index("ix_training_jobs_status", table_name="training_jobs")


def downgrade() -> None:
    op.create_index("ix_training_jobs_status", "training_jobs", ["status"])
    op.drop_index("ix_training_jobs_status_admitted_at_user_id", table_name="training_jobs")
    op.drop_index("ix_training_jobs_user_id_status_admitted_at", table_name="training_jobs")
