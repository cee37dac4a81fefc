"""API tokens may expire: ``api_tokens.expires_at`` (nullable: existing tokens never expire).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode (SQLite) rebuilds the table; on PostgreSQL this is a plain ADD COLUMN.
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", store.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
