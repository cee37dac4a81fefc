"""API tokens keep their first characters (``api_tokens.token_prefix``), to be listed and revoked by them.

Existing tokens have no prefix (NULL): only their hash was ever stored. They are listed by
id and revoked by id or with all of their user's tokens.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("token_prefix", sa.String(length=16), nullable=True))
        batch.create_index("ix_api_tokens_token_prefix", ["token_prefix"])


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_index("ix_api_tokens_token_prefix")
        batch.drop_column("token_prefix")
