"""Deleted model versions stay as tombstones: ``model_versions.deleted_at`` and ``deleted_by``.

A deleted version keeps its number, metrics and job (the history stays gap-free and
readable); its artifact file is removed and it can no longer be promoted.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("deleted_at", store.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("deleted_by", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("deleted_by")
        batch.drop_column("deleted_at")
