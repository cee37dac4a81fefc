"""Database fixtures: a fresh SQLite file or PostgreSQL database per test.

Registered for every test package by ``pytest_plugins`` in ``tests/conftest.py``.
Each parametrized fixture runs a test on ``[sqlite, postgres]``; the ``postgres`` case
is marked ``postgres`` and skips without ``MLW_TEST_POSTGRES_URL`` (fails under ``CI=true``).

Empty databases (for migration tests):
- ``sqlite_database_url``: a new SQLite file in the test's tmp_path.
- ``postgres_database_url``: a new database ``mlw_<random>`` on the server of
  ``postgres_server_url``, dropped ``WITH (FORCE)`` afterwards; parallel runs never collide.
- ``database_url``: either of them, parametrized.

Migrated databases (for everything else). Migrations run once per session into a template
(a SQLite file, a PostgreSQL template database) that each test copies:
- ``migrated_database_url``: parametrized, at head.
- ``migrated_engine``: an ``AsyncEngine`` on it.
- ``session_factory``: the store's session factory on ``migrated_engine``.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from store.engine import SessionFactory, create_engine, create_session_factory
from store.migrate import upgrade

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
_T = TypeVar("_T")


def _in_thread(fn: Callable[[], _T]) -> _T:
    # Session-scoped setup must not touch this thread's event loop (pytest-asyncio owns it).
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _database_url(server_url: str, name: str) -> str:
    return (
        make_url(server_url).set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    )


async def _admin(server_url: str, statement: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _temporary_database(server_url: str, template: str | None) -> AsyncIterator[str]:
    name = f"mlw_{uuid.uuid4().hex[:16]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    await _admin(server_url, f'CREATE DATABASE "{name}"{clause}')
    try:
        yield _database_url(server_url, name)
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    _in_thread(lambda: asyncio.run(make()))


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    """The URL of a new, empty SQLite database file."""
    return f"sqlite+aiosqlite:///{tmp_path / 'mlw-test.db'}"


@pytest.fixture
async def postgres_database_url(postgres_server_url: str) -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    async for url in _temporary_database(postgres_server_url, None):
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database on SQLite, then on PostgreSQL (each test runs on both)."""
    url: str = request.getfixturevalue(f"{request.param}_database_url")
    return url


@pytest.fixture(scope="session")
def sqlite_template_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, copied by each test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    _in_thread(lambda: upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_template_name(postgres_server_url: str) -> Iterator[str]:
    """A PostgreSQL database migrated to head, the template of each test's database."""
    name = f"mlw_tpl_{uuid.uuid4().hex[:12]}"
    _run(lambda: _admin(postgres_server_url, f'CREATE DATABASE "{name}"'))
    try:
        _in_thread(lambda: upgrade(_database_url(postgres_server_url, name)))
        yield name
    finally:
        _run(lambda: _admin(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_migrated_database_url(sqlite_template_path: Path, tmp_path: Path) -> str:
    """The URL of a new SQLite database at head."""
    target = tmp_path / "mlw-migrated.db"
    shutil.copyfile(sqlite_template_path, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
async def postgres_migrated_database_url(postgres_server_url: str, postgres_template_name: str) -> AsyncIterator[str]:
    """The URL of a new PostgreSQL database at head, dropped after the test."""
    async for url in _temporary_database(postgres_server_url, postgres_template_name):
        yield url


@pytest.fixture(params=BACKENDS)
def migrated_database_url(request: pytest.FixtureRequest) -> str:
    """A database at head on SQLite, then on PostgreSQL (each test runs on both)."""
    url: str = request.getfixturevalue(f"{request.param}_migrated_database_url")
    return url


@pytest.fixture
async def migrated_engine(migrated_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database with every migration applied."""
    engine = create_engine(migrated_database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def session_factory(migrated_engine: AsyncEngine) -> SessionFactory:
    """The store's session factory on ``migrated_engine`` (write with ``.begin()``)."""
    return create_session_factory(migrated_engine)
