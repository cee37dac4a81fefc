"""What a request leaves behind: row counts of every table and the files of the data directory.

A hostile request must leave both exactly as they were; tests take a :class:`Footprint`
before and after and compare them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from sqlalchemy import func, select

from store.engine import create_engine
from store.models import Base
from store.settings import Settings

# SQLite's own files change on every write (last_used_at of a token); they are not left-overs.
_DATABASE_FILES = {"mlw.db", "mlw.db-wal", "mlw.db-shm", "mlw.db-journal"}


@dataclasses.dataclass(frozen=True)
class Footprint:
    """Row counts per table and the data directory's files (relative paths)."""

    rows: dict[str, int]
    files: frozenset[str]

    def added_since(self, before: Footprint) -> dict[str, object]:
        """What changed since ``before``: tables whose count moved and files that appeared or vanished."""
        moved = {t: (before.rows.get(t), n) for t, n in self.rows.items() if before.rows.get(t) != n}
        new_files, gone = sorted(self.files - before.files), sorted(before.files - self.files)
        changes: dict[str, object] = {}
        if moved:
            changes["rows"] = moved
        if new_files:
            changes["new_files"] = new_files
        if gone:
            changes["removed_files"] = gone
        return changes


def _files(*roots: Path) -> frozenset[str]:
    found: set[str] = set()
    for root in roots:
        if not root.exists():
            continue
        for path in root.rglob("*"):
            if path.is_file() and path.name not in _DATABASE_FILES:
                found.add(str(path.relative_to(root.parent)))
    return frozenset(found)


async def footprint(settings: Settings) -> Footprint:
    """Count every table's rows and list the files under the data directory and the artifacts root."""
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            rows = {
                table.name: int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
                for table in Base.metadata.sorted_tables
            }
    finally:
        await engine.dispose()
    roots = {settings.data_dir.resolve(), settings.artifacts_root.resolve()}
    return Footprint(rows=rows, files=_files(*sorted(roots)))


async def left_behind(settings: Settings, before: Footprint, wait_s: float = 0.0) -> dict[str, object]:
    """What is left since ``before``, polling up to ``wait_s`` for clean-ups that run after a response."""
    polls = max(1, int(wait_s / 0.05))
    for _ in range(polls):
        changes = (await footprint(settings)).added_since(before)
        if not changes:
            return changes
        await asyncio.sleep(0.05)
    return (await footprint(settings)).added_since(before)
