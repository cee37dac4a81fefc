"""Fair share of workers: ``training_jobs.admitted_at`` (see ``store.admission``).

Every job that existed before had its message sent when it was submitted, so each is
recorded as admitted then (a queued one keeps its message in the broker).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.add_column(sa.Column("admitted_at", store.types.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE training_jobs SET admitted_at = COALESCE(started_at, created_at)")


def downgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_column("admitted_at")
