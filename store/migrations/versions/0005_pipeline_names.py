"""Pipelines get a human name (``pipelines.name``, nullable: older rows show their id).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode (SQLite) rebuilds the table; on PostgreSQL this is a plain ADD COLUMN.
    with op.batch_alter_table("pipelines") as batch:
        batch.add_column(sa.Column("name", sa.String(length=200), nullable=True))
        batch.create_index("ix_pipelines_owner_id_updated_at", ["owner_id", "updated_at"])


def downgrade() -> None:
    with op.batch_alter_table("pipelines") as batch:
        batch.drop_index("ix_pipelines_owner_id_updated_at")
        batch.drop_column("name")
