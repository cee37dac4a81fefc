"""Datasets are stored as Parquet with their summary: ``dataset_sources.storage_format``,
``storage_sha256``, ``stored_bytes`` and ``preview`` (all nullable: rows uploaded before keep
their original file, which workers and previews still read).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("dataset_sources") as batch:
        batch.add_column(sa.Column("storage_format", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("storage_sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("stored_bytes", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("preview", _json(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dataset_sources") as batch:
        batch.drop_column("preview")
        batch.drop_column("stored_bytes")
        batch.drop_column("storage_sha256")
        batch.drop_column("storage_format")
