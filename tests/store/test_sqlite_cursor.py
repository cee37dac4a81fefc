"""SQLite statements in one thread hand-off (``store.sqlite_cursor``): same results, same errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from store.engine import create_engine


async def test_executemany_inserts_every_row_and_a_duplicate_fails_the_whole_statement(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'one_hop.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"))
            result = await conn.execute(text("INSERT INTO t (id, name) VALUES (:id, :name)"),
                                        [{"id": i, "name": f"n{i}"} for i in range(5)])
            assert result.rowcount == 5
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (id, name) VALUES (:id, :name)"),
                                   [{"id": 10, "name": "new"}, {"id": 1, "name": "again"}])
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, name FROM t ORDER BY id"))).all()
        assert [tuple(r) for r in rows] == [(i, f"n{i}") for i in range(5)], "the failed batch left nothing behind"
    finally:
        await engine.dispose()
