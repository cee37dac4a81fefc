"""Apply Alembic migrations from code: the CLI (sync) and tests (async) both use this.

Alembic is configured in code (no ``alembic.ini`` lookup), so it runs from any working
directory. The async functions run the migration on a connection of the given engine;
the sync ones wrap them and work even when called from a thread that runs an event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import NullPool

from store.engine import create_engine, write_options

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

_T = TypeVar("_T")


def alembic_config(url: str = "") -> Config:
    """An Alembic :class:`Config` for our migrations and ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest revision id shipped with the code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "store/migrations/versions holds no revision"
    return head


async def _sqlite_foreign_keys(conn: AsyncConnection, on: bool) -> None:
    """Switch SQLite's foreign-key enforcement; only possible outside a transaction, so on the driver."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, aiosqlite.Connection)
    await driver.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"the migration left rows whose foreign keys point nowhere: {broken[:5]}")


async def _on_connection(target: str | AsyncEngine, fn: Callable[[Connection], _T], *, migrates: bool = False) -> _T:
    engine = create_engine(target, poolclass=NullPool) if isinstance(target, str) else target
    try:
        async with engine.connect() as conn:
            # Batch mode rebuilds a SQLite table (copy, DROP, rename); with foreign keys
            # enforced, the DROP would cascade: rebuilding training_jobs deleted every model
            # version and event. Off during the migration, checked before it commits.
            sqlite = migrates and conn.dialect.name == "sqlite"
            if sqlite:
                await _sqlite_foreign_keys(conn, on=False)
            try:
                # A write transaction from the start (BEGIN IMMEDIATE on SQLite): migrations write.
                await conn.execution_options(**write_options())
                result = await conn.run_sync(fn)
                if sqlite:
                    await conn.run_sync(_check_foreign_keys)
                if conn.in_transaction():
                    await conn.commit()
            finally:
                if sqlite:
                    if conn.in_transaction():
                        await conn.rollback()
                    await _sqlite_foreign_keys(conn, on=True)
            return result
    finally:
        if isinstance(target, str):
            await engine.dispose()


def _command(target: str | AsyncEngine, run: Callable[[Config], None]) -> Callable[[Connection], None]:
    def fn(connection: Connection) -> None:
        url = target if isinstance(target, str) else target.url.render_as_string(hide_password=False)
        cfg = alembic_config(url)
        cfg.attributes["connection"] = connection
        run(cfg)

    return fn


async def migrate_on_connection(target: str | AsyncEngine, fn: Callable[[Connection], None]) -> None:
    """Run ``fn`` (Alembic's migration run) on a write connection of ``target``, as every migration runs.

    For ``alembic``'s own command line (``store/migrations/env.py``); code uses :func:`upgrade_async`.
    """
    await _on_connection(target, fn, migrates=True)


async def upgrade_async(target: str | AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database (a URL or an engine) to ``revision``."""
    await _on_connection(target, _command(target, lambda cfg: command.upgrade(cfg, revision)), migrates=True)


async def downgrade_async(target: str | AsyncEngine, revision: str = "base") -> None:
    """Downgrade the database (a URL or an engine) to ``revision``."""
    await _on_connection(target, _command(target, lambda cfg: command.downgrade(cfg, revision)), migrates=True)


async def current_async(target: str | AsyncEngine) -> str | None:
    """The revision the database is at, or ``None`` for an empty database."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    return await _on_connection(target, read)


def _run(coro: Coroutine[Any, Any, _T]) -> _T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from inside a running loop (e.g. an async test calling the sync API): the
    # migration needs its own loop, so it gets its own thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision`` (default: the newest)."""
    _run(upgrade_async(url, revision))


def downgrade(url: str, revision: str = "base") -> None:
    """Downgrade the database at ``url`` to ``revision`` (default: drop everything)."""
    _run(downgrade_async(url, revision))


def current(url: str) -> str | None:
    """The revision of the database at ``url``, or ``None`` when it has none."""
    return _run(current_async(url))
