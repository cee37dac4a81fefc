"""HTTP errors of the REST API and their translation at the edge.

Views raise :class:`ApiError` subclasses, or let store and engine errors propagate; the
error middleware turns every exception into ``{"error": {"code", "message", "details"}}``
with the status chosen by :func:`to_api_error`.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import pydantic
from sqlalchemy import exc as sa_exc

from actors.errors import (
    ActiveJobConflict,
    BrokerUnavailable,
    IdempotencyKeyReused,
    ModelError,
    QuotaExceeded,
    ServiceError,
)
from store.errors import Conflict, InvalidInput, NotFound, StoreBusy, StoreError


class ApiError(Exception):
    """Raised when a request cannot be served; carries the HTTP status and a stable code.

    Attributes:
        status: The HTTP status code.
        code: A stable, machine-readable error code.
        message: A human-readable explanation.
        details: JSON-ready extra information (e.g. the offending ``field``).
    """

    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code or self.default_code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def body(self) -> dict[str, Any]:
        """The JSON error document."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(ApiError):
    """Raised when the request is malformed (e.g. the body is not JSON)."""


class Unauthorized(ApiError):
    """Raised when the bearer token is missing, unknown or revoked."""

    status = 401
    default_code = "unauthorized"


class Forbidden(ApiError):
    """Raised when the caller is known but may not perform the operation."""

    status = 403
    default_code = "forbidden"


class NotFoundError(ApiError):
    """Raised when an object does not exist or belongs to another user."""

    status = 404
    default_code = "not_found"


class MethodNotAllowed(ApiError):
    """Raised when the path exists but not with this HTTP method."""

    status = 405
    default_code = "method_not_allowed"


class ConflictError(ApiError):
    """Raised when the request collides with the current state (e.g. an active job)."""

    status = 409
    default_code = "conflict"


class PayloadTooLarge(ApiError):
    """Raised when a request body exceeds its size limit."""

    status = 413
    default_code = "payload_too_large"


class UnsupportedMediaType(ApiError):
    """Raised when the body is in a coding the server cannot decode (``Content-Encoding``)."""

    status = 415
    default_code = "unsupported_content_encoding"


class UnprocessableEntity(ApiError):
    """Raised when the request is well-formed but its content is invalid; names the field."""

    status = 422
    default_code = "validation_error"


class TooManyRequests(ApiError):
    """Raised when a per-user limit of concurrent use is reached; retry once something was released."""

    status = 429
    default_code = "too_many_requests"


class ServiceUnavailable(ApiError):
    """Raised when a dependency (the broker) is down; the request may be retried later."""

    status = 503
    default_code = "service_unavailable"


RETRY_AFTER_S = 1
"""The ``Retry-After`` of every 503: the causes (a busy database, a restarting dependency) are short."""


class InternalError(ApiError):
    """Raised (or substituted) for an unexpected failure; never carries a traceback."""

    status = 500
    default_code = "internal_error"


_MODEL_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def validation_error(exc: pydantic.ValidationError, *, location: str = "body") -> UnprocessableEntity:
    """A 422 naming every offending field of a pydantic validation failure."""
    problems = [
        {
            # Union members appear in locations by their class name (``TrainConfigIn``); fields never do.
            "field": ".".join(str(part) for part in err["loc"] if not _MODEL_NAME.match(str(part))) or location,
            "message": err["msg"],
            "type": err["type"],
        }
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    first = problems[0] if problems else {"field": location, "message": "invalid"}
    return UnprocessableEntity(
        f"{location}: {first['field']}: {first['message']}",
        details={"location": location, "field": first["field"], "errors": problems},
    )


def to_api_error(exc: BaseException) -> ApiError:
    """Translate any exception to the :class:`ApiError` the client sees."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, pydantic.ValidationError):
        return validation_error(exc)
    if isinstance(exc, ModelError):
        details = dict(exc.details)
        details["field"] = exc.field
        return UnprocessableEntity(_engine_message(exc), code=exc.code, details=details)
    if isinstance(exc, IdempotencyKeyReused):
        return UnprocessableEntity(exc.message, code=exc.code, details={"field": "idempotency_key", **exc.details})
    if isinstance(exc, ActiveJobConflict | QuotaExceeded):
        return ConflictError(exc.message, code=exc.code, details=exc.details)
    if isinstance(exc, BrokerUnavailable):
        return ServiceUnavailable(exc.message, code=exc.code, details=exc.details)
    if isinstance(exc, ServiceError):
        return ConflictError(exc.message, code=exc.code, details=exc.details)
    if isinstance(exc, NotFound):
        return NotFoundError(str(exc), details={"kind": exc.kind})
    if isinstance(exc, InvalidInput):
        return UnprocessableEntity(exc.message, code="invalid_input", details={"field": exc.field})
    if isinstance(exc, Conflict):
        extra = getattr(exc, "details", None)
        code = getattr(exc, "code", None)
        details = dict(extra) if isinstance(extra, dict) else {}
        return ConflictError(str(exc), code=code if isinstance(code, str) else None, details=details)
    if isinstance(exc, StoreBusy | sa_exc.TimeoutError):
        # Overload, not a bug: the write turn or a pooled connection did not come in time.
        return ServiceUnavailable("the database is busy; retry shortly", code="database_busy")
    if isinstance(exc, StoreError):
        return InternalError("the database could not serve the request")
    if _database_unreachable(exc):
        return ServiceUnavailable("the database is unavailable; retry shortly", code="database_unavailable")
    return InternalError("an unexpected error occurred")


def _engine_message(exc: ModelError) -> str:
    """The engine's message led by the field it is about, as the request validation's are."""
    if exc.field and not exc.message.startswith(exc.field):
        return f"{exc.field}: {exc.message}"
    return exc.message


_CONNECTION_ERRORS = frozenset(
    {"CannotConnectNowError", "ConnectionDoesNotExistError", "ConnectionFailureError", "AdminShutdownError",
     "CrashShutdownError", "TooManyConnectionsError"}
)


def _database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database could not be reached (down, restarting), not a bug."""
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated or isinstance(exc, sa_exc.InterfaceError):
            return True
        causes = [exc.orig, getattr(exc.orig, "__cause__", None)]
        return any(isinstance(c, OSError) or type(c).__name__ in _CONNECTION_ERRORS for c in causes if c)
    # asyncpg raises these itself when no connection can be opened at all.
    return isinstance(exc, ConnectionError | TimeoutError) or type(exc).__name__ in _CONNECTION_ERRORS
