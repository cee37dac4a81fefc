"""Async engines and sessions for SQLite (aiosqlite) and PostgreSQL (asyncpg).

Transactions
    Store functions never commit: they run inside the caller's transaction, so several
    of them (e.g. "create a model version + its event + transition to succeeded") are one
    atomic unit. **Write** with ``async with session_factory.begin() as session: ...``
    (commits on success, rolls back on error). **Read** with ``async with
    session_factory() as session:`` (or :func:`read_session`); do not commit writes made
    through such a session on SQLite (see below).

SQLite
    Every connection gets ``journal_mode=WAL``, ``busy_timeout`` and ``foreign_keys=ON``.
    The driver's own implicit BEGIN is switched off and the engine emits its own:
    ``factory.begin()`` transactions start with ``BEGIN IMMEDIATE``, taking the write lock
    up front and waiting (busy_timeout) for writers of this and other processes. A
    deferred BEGIN would let a transaction read first and then fail with SQLITE_BUSY,
    without waiting, when it upgrades to a write after another writer committed.
    Other sessions (reads) start with a deferred BEGIN: one consistent WAL snapshot that
    never waits for writers and never blocks them. Within one process,
    :class:`SessionFactory` also queues writers on an asyncio lock first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeAlias
from weakref import WeakKeyDictionary

import aiosqlite
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_only

from store.errors import InvalidInput, StoreBusy
from store.settings import Settings
from store.sqlite_cursor import one_hop

Engine: TypeAlias = AsyncEngine
"""The database engine (for annotations outside the store, which never import SQLAlchemy)."""
Session: TypeAlias = AsyncSession
"""A database session: a transaction that store functions run in."""
Sessions: TypeAlias = async_sessionmaker[AsyncSession]
"""A session factory, as :func:`create_session_factory` makes."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE = "mlw_write"
"""Connection execution option: this transaction writes (``BEGIN IMMEDIATE`` on SQLite)."""


def is_sqlite(url: str) -> bool:
    """Whether ``url`` names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    one_hop(dbapi_connection)
    # Stop the driver from issuing its own (deferred) BEGIN; _sqlite_on_begin does it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(WRITE):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    # A read's deferred BEGIN cannot fail on a lock; sent straight to aiosqlite it costs one
    # thread hand-off instead of three (cursor, execute, close) on every read request.
    driver = conn.connection.driver_connection
    if isinstance(driver, aiosqlite.Connection):
        await_only(driver.execute("BEGIN"))
    else:
        conn.exec_driver_sql("BEGIN")


def create_engine(url: str, *, echo: bool = False, **kwargs: Any) -> AsyncEngine:
    """Create an async engine for ``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``.

    Args:
        url: The database URL.
        echo: Log every statement.
        **kwargs: Passed on to :func:`sqlalchemy.ext.asyncio.create_async_engine`
            (e.g. ``pool_size``, ``poolclass``).

    Raises:
        InvalidInput: the URL names another driver.
    """
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        # The pool's rollback on return stays on (one thread hand-off per session): a session
        # cancelled while its BEGIN waited on the driver's thread (a websocket closed during its
        # snapshot read) never learns that the BEGIN ran, and without the reset the next session
        # to get that connection failed with "cannot start a transaction within a transaction".
        engine = create_async_engine(url, echo=echo, connect_args=connect_args, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
        return engine
    if parsed.drivername == "postgresql+asyncpg":
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(url, echo=echo, **kwargs)
    raise InvalidInput(
        "database.url", f"unsupported driver {parsed.drivername!r}; use sqlite+aiosqlite or postgresql+asyncpg"
    )


def pool_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of :func:`create_engine` from the ``[database]`` settings.

    ``pool_size`` / ``max_overflow`` / ``pool_timeout_s`` size the connection pool of one
    process (for a SQLite file too: every request holds a connection while it reads);
    ``statement_timeout_s`` becomes PostgreSQL's ``statement_timeout`` of every connection.
    An in-memory SQLite database keeps SQLAlchemy's single shared connection.
    """
    url = make_url(settings.database_url)
    db = settings.database
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return {}
    options: dict[str, Any] = {
        "pool_size": db.pool_size, "max_overflow": db.max_overflow, "pool_timeout": db.pool_timeout_s,
    }
    if url.get_backend_name() == "postgresql" and db.statement_timeout_s > 0:
        timeout_ms = str(int(db.statement_timeout_s * 1000))
        options["connect_args"] = {"server_settings": {"statement_timeout": timeout_ms}}
    return options


def write_options() -> Any:
    """Execution options marking a connection's next transaction as a write."""
    return {WRITE: True}  # a custom key, unknown to SQLAlchemy's TypedDict of options


class SessionFactory(async_sessionmaker[AsyncSession]):
    """An ``async_sessionmaker`` whose :meth:`begin` opens a write transaction.

    On SQLite, ``begin()`` emits ``BEGIN IMMEDIATE`` and first queues on a per-factory,
    per-event-loop asyncio lock: SQLite lets one writer in at a time and waiting writers
    poll with growing sleeps, so fifty contending writers of one process run ~50x faster
    queued on a lock (writers of other processes still wait via busy_timeout). Like
    SQLite itself, a ``begin()`` nested inside another of the same factory waits for the
    outer one, failing after the busy timeout with :class:`~store.errors.StoreBusy`.
    Use one factory per process.
    """

    def __init__(self, engine: AsyncEngine, *, serialize_writes: bool, lock_timeout_s: float) -> None:
        super().__init__(engine, expire_on_commit=False, autoflush=True)
        self._serialize = serialize_writes
        self._lock_timeout_s = lock_timeout_s
        self._locks: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = WeakKeyDictionary()

    def begin(self) -> AbstractAsyncContextManager[AsyncSession]:  # type: ignore[override]
        """A new session in a write transaction that commits on success and rolls back on error."""
        return self._begin()

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncSession]:
        lock = self._locks.setdefault(asyncio.get_running_loop(), asyncio.Lock()) if self._serialize else None
        if lock is not None:
            try:
                async with asyncio.timeout(self._lock_timeout_s):
                    await lock.acquire()
            except TimeoutError:
                message = f"no write turn within {self._lock_timeout_s:g} s (is a write transaction nested?)"
                raise StoreBusy(message) from None
        try:
            async with super().begin() as session:
                await session.connection(execution_options=write_options())
                yield session
        finally:
            if lock is not None:
                lock.release()


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    """The session factory for ``engine``: objects stay usable after commit (no expiry).

    Write with ``async with factory.begin() as session:``; read with ``async with factory() as session:``.
    """
    sqlite = engine.dialect.name == "sqlite"
    return SessionFactory(engine, serialize_writes=sqlite, lock_timeout_s=SQLITE_BUSY_TIMEOUT_MS / 1000)


@asynccontextmanager
async def read_session(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for reads: one consistent snapshot that neither waits for nor blocks writers.

    The same as ``factory()``; it is closed (rolled back) on exit and never commits.
    """
    async with factory() as session:
        yield session


async def ping(session: AsyncSession) -> None:
    """One round trip to the database (the readiness probe); raises when it cannot be reached."""
    await session.execute(text("SELECT 1"))
