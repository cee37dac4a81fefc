"""Job kinds: ``training_jobs.kind`` says which actor runs a job (``training`` by default).

Every job row before this migration is a training job, so the column is filled with
``training`` for them; the jobs table, its state machine and its events stay shared by
every kind (see ``store.kinds``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=32), nullable=False, server_default="training"))


def downgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_column("kind")
