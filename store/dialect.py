"""The few statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def upsert(session: AsyncSession, model: Any) -> Any:
    """An ``INSERT`` for ``model`` that supports ``on_conflict_do_update/nothing`` on either database.

    Both dialects spell ``INSERT ... ON CONFLICT`` the same way (SQLite 3.24+), and both
    support ``RETURNING`` (SQLite 3.35+).
    """
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)
