"""Errors raised by the store. The server translates them to HTTP at its edge.

Every error carries a stable, machine-readable ``code`` (a class attribute, overridden per
instance where one class stands for several causes), as the errors of the other packages do.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the store raises."""

    code: str = "store_error"


class ConfigError(Exception):
    """Raised when the configuration has an unknown key or a bad value; names the key.

    Not a :class:`StoreError`: a bad setting is the operator's to fix, not a database failure.
    """

    code: str = "config_error"

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class IllegalTransition(StoreError):
    """Raised when a job status change is not allowed by the state machine."""

    code = "illegal_transition"


class NotFound(StoreError):
    """Raised when a row does not exist or the reader may not see it (the two look the same)."""

    code = "not_found"

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class Conflict(StoreError):
    """Raised when a write collides with existing data (a unique key, a concurrent claim)."""

    code = "conflict"


class InUse(Conflict):
    """Raised when a row cannot be deleted because others still use it; ``details`` lists them."""

    def __init__(self, message: str, *, code: str, details: dict[str, object]) -> None:
        super().__init__(message)
        self.code = code
        self.details = details


class DuplicateName(Conflict):
    """Raised when a name that must be unique (e.g. a user name) is already taken."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"a {kind} named {name!r} already exists")
        self.kind = kind
        self.name = name


class DuplicateIdempotencyKey(Conflict):
    """Raised when a job is created with an idempotency key the same user already used."""

    def __init__(self, key: str) -> None:
        super().__init__(f"a job with idempotency key {key!r} already exists")
        self.key = key


class InvalidInput(StoreError, ValueError):
    """Raised when an argument has a bad value or names an unknown column; names the field."""

    code = "invalid_input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class StoreBusy(StoreError):
    """Raised when a write transaction could not start because the database stayed locked too
    long, or no pooled connection came free in time: overload, not a bug."""

    code = "database_busy"


class StoreUnavailable(StoreError):
    """Raised (by :func:`store.db_errors.as_store_error`) for a database that cannot be reached."""

    code = "database_unavailable"


class BlobError(StoreError):
    """Raised when object storage fails or refuses an operation; ``code`` says which.

    Codes: ``blob_missing`` (no object at the key), ``blob_corrupt`` (the bytes do not have
    the recorded sha256), ``blob_outside_root`` (a URI that does not lie under the configured
    root: a row never reads or deletes anything else), ``blob_bad_key``, ``blob_unavailable``
    (the store could not be reached or refused the request).
    """

    def __init__(self, message: str, *, code: str, key: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.key = key
class VersionDeleted(Conflict):
    """Raised when a model version to use or alias was deleted: it is a tombstone without a model."""

    code = "version_deleted"

    def __init__(self, version: int, field: str = "version") -> None:
        super().__init__(f"version {version} was deleted: it has no model to use or alias")
        self.version = version
        self.details: dict[str, object] = {"field": field, "version": version}
