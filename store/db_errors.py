"""The database driver's own failures, named as store errors.

SQLAlchemy and the drivers raise their exceptions for an exhausted pool or a database
that is down or restarting; the server answers those with a 503 rather than a 500, so
they are translated here, where SQLAlchemy is known, and not at the HTTP edge.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

from store.errors import StoreBusy, StoreError, StoreUnavailable

_CONNECTION_ERRORS = frozenset(
    {"CannotConnectNowError", "ConnectionDoesNotExistError", "ConnectionFailureError", "AdminShutdownError",
     "CrashShutdownError", "TooManyConnectionsError"}
)


def _unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database could not be reached (down, restarting), not a bug."""
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated or isinstance(exc, sa_exc.InterfaceError):
            return True
        causes = [exc.orig, getattr(exc.orig, "__cause__", None)]
        return any(isinstance(c, OSError) or type(c).__name__ in _CONNECTION_ERRORS for c in causes if c)
    # asyncpg raises these itself when no connection can be opened at all.
    return isinstance(exc, ConnectionError | TimeoutError) or type(exc).__name__ in _CONNECTION_ERRORS


def as_store_error(exc: BaseException) -> StoreError | None:
    """The store error ``exc`` stands for: a pool timeout is :class:`StoreBusy`, a database
    out of reach :class:`StoreUnavailable`; None for anything else."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, sa_exc.TimeoutError):
        return StoreBusy(str(exc))
    if _unreachable(exc):
        return StoreUnavailable(str(exc))
    return None
