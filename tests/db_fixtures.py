"""Database fixtures: a fresh SQLite file or PostgreSQL database per test, migrated to head.

Registered for every test package by ``pytest_plugins`` in ``tests/conftest.py``.

- ``sqlite_database_url``: a new SQLite file in the test's tmp_path.
- ``postgres_database_url``: a new database ``mlw_<random>`` on the server of
  ``postgres_server_url``, dropped ``WITH (FORCE)`` afterwards, so parallel runs never collide.
- ``database_url``: parametrized ``[sqlite, postgres]`` (the latter marked ``postgres``:
  skipped without a server, failing under ``CI=true``).
- ``migrated_engine``: an ``AsyncEngine`` on ``database_url``, upgraded to head.
- ``session_factory``: an ``async_sessionmaker`` bound to ``migrated_engine``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from store.engine import create_engine, create_session_factory
from store.migrate import upgrade_async


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    """The URL of a new, empty SQLite database file."""
    return f"sqlite+aiosqlite:///{tmp_path / 'mlw-test.db'}"


@pytest.fixture
async def postgres_database_url(postgres_server_url: str) -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    name = f"mlw_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(_asyncpg_dsn(postgres_server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(postgres_server_url).set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        admin = await asyncpg.connect(_asyncpg_dsn(postgres_server_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database on SQLite, then on PostgreSQL (each test runs on both)."""
    url: str = request.getfixturevalue(f"{request.param}_database_url")
    return url


@pytest.fixture
async def migrated_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on ``database_url`` with every migration applied."""
    engine = create_engine(database_url)
    try:
        await upgrade_async(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def session_factory(migrated_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on the migrated database (``expire_on_commit=False``)."""
    return create_session_factory(migrated_engine)
