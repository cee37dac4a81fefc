"""Alias removal is history too: ``model_alias_history.version`` (the target) may be NULL.

A row with ``previous_version`` set and ``version`` NULL records that the alias was
removed; ``previous_version`` NULL records that it was set for the first time (or again
after a removal); both set, that it moved.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_alias_history") as batch:
        batch.alter_column("version", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # The old schema cannot say "removed": those rows go with the downgrade.
    op.execute(sa.text("DELETE FROM model_alias_history WHERE version IS NULL"))
    with op.batch_alter_table("model_alias_history") as batch:
        batch.alter_column("version", existing_type=sa.Integer(), nullable=False)
