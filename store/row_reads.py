"""Hot single-statement reads without the ORM: one statement, one thread hand-off.

The ORM path of a read request (session, identity map, ``BEGIN``, the statement, the
rollback; aiosqlite runs each on the connection's own thread) costs about 1.5 ms of CPU,
ten times SQLite's own work for a row by primary key. :class:`RowReads` runs a Core
``SELECT`` compiled once per dialect:

- On a SQLite file, on a small pool of threads that each keep their own connection,
  opened ``query_only`` (it can never write) and in autocommit mode: a single ``SELECT``
  is its own read transaction, one consistent WAL snapshot that neither waits for
  writers nor blocks them. The whole read is one hand-off to a thread.
- Elsewhere (PostgreSQL, an in-memory SQLite database), through the engine's pool as a
  plain Core read.

Rows come back as dicts of Python values converted by the columns' own SQLAlchemy types
(JSON decoded, timestamps timezone-aware), the same values an ORM read gives.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from store.errors import StoreBusy

SQLITE_READ_THREADS = 2
"""Threads (each with its own connection) serving the hot reads of one SQLite process: a
read by primary key takes tens of microseconds, so more threads would only contend for the GIL."""
SQLITE_BUSY_TIMEOUT_S = 30.0

Row = dict[str, Any]
Processor = Callable[[Any], Any] | None


class _Compiled:
    """A statement compiled for one dialect: its SQL, parameter order and result converters."""

    def __init__(self, stmt: Select[Any], dialect: Dialect) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self.positions: tuple[str, ...] = tuple(compiled.positiontup or ())
        columns = list(stmt.selected_columns)
        self.names = tuple(str(column.key) for column in columns)
        self.processors: tuple[Processor, ...] = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(values[name] for name in self.positions)

    def rows(self, raw: Sequence[Sequence[Any]]) -> list[Row]:
        out: list[Row] = []
        pairs = tuple(zip(self.names, self.processors, strict=True))
        for values in raw:
            out.append({name: (fn(v) if fn is not None and v is not None else v)
                        for (name, fn), v in zip(pairs, values, strict=True)})
        return out


class _SqlitePool:
    """A few threads, each with its own read-only connection to one SQLite file."""

    def __init__(self, path: str, threads: int) -> None:
        self._path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mlw-read")

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self._path, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA query_only = ON")  # this connection can never write
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreBusy(f"the database stayed busy: {exc}") from None
            raise

    async def fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._fetch, sql, params)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()


def _sqlite_file(engine: AsyncEngine) -> str | None:
    """The file of a plain SQLite URL (no query options), else ``None``."""
    url = make_url(engine.url)
    if url.get_backend_name() != "sqlite" or url.query or url.database in (None, "", ":memory:"):
        return None
    return url.database


class RowReads:
    """Runs hot single-statement reads for one process (see the module docstring).

    Args:
        engine: The process's engine; its dialect compiles the statements, and it serves
            the reads itself unless it is a SQLite file.
        threads: Threads of the SQLite read pool.
    """

    def __init__(self, engine: AsyncEngine, *, threads: int = SQLITE_READ_THREADS) -> None:
        self._engine = engine
        self._dialect = engine.dialect
        path = _sqlite_file(engine)
        self._pool = _SqlitePool(path, threads) if path is not None else None
        self._compiled: dict[int, tuple[Select[Any], _Compiled]] = {}

    @property
    def pooled(self) -> bool:
        """Whether reads go through the SQLite read pool (one hand-off each)."""
        return self._pool is not None

    def _compile(self, stmt: Select[Any]) -> _Compiled:
        # Statements are module constants; keeping the statement itself makes the id stable.
        found = self._compiled.get(id(stmt))
        if found is None or found[0] is not stmt:
            found = (stmt, _Compiled(stmt, self._dialect))
            self._compiled[id(stmt)] = found
        return found[1]

    async def fetch(self, stmt: Select[Any], params: Mapping[str, Any]) -> list[Row]:
        """The rows of ``stmt`` (a ``SELECT`` with named ``bindparam`` values given in ``params``).

        Raises:
            StoreBusy: SQLite stayed locked beyond the busy timeout.
        """
        if self._pool is None:
            async with self._engine.connect() as conn:
                result = await conn.execute(stmt, dict(params))
                return [dict(row._mapping) for row in result]
        compiled = self._compile(stmt)
        raw = await self._pool.fetch(compiled.sql, compiled.parameters(params))
        return compiled.rows(raw)

    def close(self) -> None:
        """Stop the read threads and close their connections."""
        if self._pool is not None:
            self._pool.close()
