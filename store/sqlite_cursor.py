"""One thread hand-off per SQLite statement instead of four (three for ``executemany``).

SQLAlchemy's aiosqlite adapter runs each statement as four calls on aiosqlite's thread
(``cursor``, ``execute``, ``fetchall``, ``close``), and every call is a hand-off between
the event loop and that thread under the GIL: on a busy two-core machine these
hand-offs, not SQLite, were most of a read request's cost. :func:`one_hop` makes a
connection run the whole statement in one call. Results are fetched whole, exactly as
the adapter's default (non server-side) cursor does; errors are translated by the
adapter as before.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_cursor


def _run(raw: sqlite3.Connection, operation: str, parameters: Any) -> tuple[Any, list[Any], int, int]:
    cursor = raw.cursor()
    try:
        cursor.execute(operation, () if parameters is None else parameters)
        if cursor.description:
            return cursor.description, cursor.fetchall(), -1, -1
        return None, [], cursor.lastrowid or 0, cursor.rowcount
    finally:
        cursor.close()


def _run_many(raw: sqlite3.Connection, operation: str, seq_of_parameters: Any) -> tuple[int, int]:
    cursor = raw.cursor()
    try:
        cursor.executemany(operation, seq_of_parameters)
        return cursor.lastrowid or 0, cursor.rowcount
    finally:
        cursor.close()


class _OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        try:
            # aiosqlite has no public "run this on your thread" call; _execute is that call.
            description, rows, lastrowid, rowcount = self.await_(
                connection._execute(_run, connection._conn, operation, parameters)  # type: ignore[no-untyped-call]
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
            return
        self.description = description
        self._rows = deque(rows)
        self.lastrowid = lastrowid
        self.rowcount = rowcount

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        try:
            # A batch of submissions inserts its rows this way (store.submission_writes): three calls become one.
            lastrowid, rowcount = self.await_(
                connection._execute(_run_many, connection._conn, operation, seq_of_parameters)  # type: ignore[no-untyped-call]
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
            return
        self.description = None
        self.lastrowid = lastrowid
        self.rowcount = rowcount


class _OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        return super().cursor(server_side) if server_side else _OneHopCursor(self)


def one_hop(dbapi_connection: Any) -> None:
    """Make a new aiosqlite connection of SQLAlchemy's run each statement in one hand-off."""
    if type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
        dbapi_connection.__class__ = _OneHopConnection
