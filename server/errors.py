"""HTTP errors of the REST API and their translation at the edge.

Views raise :class:`ApiError` subclasses, or let store and ML (``ModelError``) errors propagate; the
error middleware turns every exception into ``{"error": {"code", "message", "details"}}``
with the status chosen by :func:`to_api_error`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import pydantic

from actors.errors import (
    BrokerUnavailable,
    IdempotencyKeyReused,
    ModelError,
    ServiceError,
)
from store.db_errors import as_store_error
from store.errors import BlobError, Conflict, InvalidInput, NotFound, StoreBusy, StoreError, StoreUnavailable


class ApiError(Exception):
    """Raised when a request cannot be served; carries the HTTP status and a stable code.

    Attributes:
        status: The HTTP status code.
        code: A stable, machine-readable error code.
        message: A human-readable explanation.
        details: JSON-ready extra information (e.g. the offending ``field``).
    """

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code or type(self).code
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
    code = "unauthorized"


class Forbidden(ApiError):
    """Raised when the caller is known but may not perform the operation."""

    status = 403
    code = "forbidden"


class NotFoundError(ApiError):
    """Raised when an object does not exist or belongs to another user."""

    status = 404
    code = "not_found"


class MethodNotAllowed(ApiError):
    """Raised when the path exists but not with this HTTP method."""

    status = 405
    code = "method_not_allowed"


class ConflictError(ApiError):
    """Raised when the request collides with the current state (e.g. an active job)."""

    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    """Raised when a request body exceeds its size limit."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ApiError):
    """Raised when the body is in a coding the server cannot decode (``Content-Encoding``)."""

    status = 415
    code = "unsupported_content_encoding"


class UnprocessableEntity(ApiError):
    """Raised when the request is well-formed but its content is invalid; names the field."""

    status = 422
    code = "validation_error"


class TooManyRequests(ApiError):
    """Raised when a per-user limit of concurrent use is reached; retry once something was released."""

    status = 429
    code = "too_many_requests"


class ServiceUnavailable(ApiError):
    """Raised when a dependency (the broker) is down; the request may be retried later."""

    status = 503
    code = "service_unavailable"


RETRY_AFTER_S = 1
"""The ``Retry-After`` of every 503: the causes (a busy database, a restarting dependency) are short."""


class InternalError(ApiError):
    """Raised (or substituted) for an unexpected failure; never carries a traceback."""

    status = 500
    code = "internal_error"


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


@dataclasses.dataclass(frozen=True)
class Translation:
    """How one exception class is answered: the :class:`ApiError` class (so the status), the
    code (None: the exception's own ``code``), the message and the details."""

    error: type[ApiError]
    code: str | None = None
    message: str | Callable[[Any], str] = str
    details: Callable[[Any], dict[str, Any]] = lambda exc: {}


def _model_message(exc: ModelError) -> str:
    """The model error's message led by the field it is about, as the request validation's are."""
    if exc.field and not exc.message.startswith(exc.field):
        return f"{exc.field}: {exc.message}"
    return exc.message


def _own_details(exc: Any) -> dict[str, Any]:
    extra = getattr(exc, "details", None)
    return dict(extra) if isinstance(extra, dict) else {}


def _message(exc: Any) -> str:
    return str(exc.message)


TRANSLATIONS: dict[type[BaseException], Translation] = {
    ModelError: Translation(
        UnprocessableEntity, message=_model_message, details=lambda exc: {**exc.details, "field": exc.field}
    ),
    IdempotencyKeyReused: Translation(
        UnprocessableEntity, message=_message, details=lambda exc: {"field": "idempotency_key", **exc.details}
    ),
    BrokerUnavailable: Translation(ServiceUnavailable, message=_message, details=_own_details),
    ServiceError: Translation(ConflictError, message=_message, details=_own_details),
    NotFound: Translation(NotFoundError, details=lambda exc: {"kind": exc.kind}),
    InvalidInput: Translation(UnprocessableEntity, message=_message, details=lambda exc: {"field": exc.field}),
    Conflict: Translation(ConflictError, details=_own_details),
    StoreBusy: Translation(ServiceUnavailable, message="the database is busy; retry shortly"),
    StoreUnavailable: Translation(ServiceUnavailable, message="the database is unavailable; retry shortly"),
    StoreError: Translation(InternalError, code="internal_error", message="the database could not serve the request"),
}
"""Every exception the other packages raise on purpose, and its answer; the nearest class
in an exception's MRO wins. Anything else is a 500 without details."""


def _storage_error(exc: BlobError) -> ApiError:
    """Object storage failures: a missing or refused object is a 404, an outage a 503."""
    if exc.code in ("blob_missing", "blob_outside_root"):
        return NotFoundError("the stored object is missing from storage", code="stored_object_missing")
    if exc.code == "blob_unavailable":
        return ServiceUnavailable("object storage is unavailable; retry shortly", code="storage_unavailable")
    return InternalError("the stored object failed its integrity check", code=exc.code)


def to_api_error(exc: BaseException) -> ApiError:
    """Translate any exception to the :class:`ApiError` the client sees (by :data:`TRANSLATIONS`)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, pydantic.ValidationError):
        return validation_error(exc)
    if isinstance(exc, BlobError):  # one class, answered by its code: see _storage_error
        return _storage_error(exc)
    exc = as_store_error(exc) or exc
    rule = next((TRANSLATIONS[c] for c in type(exc).__mro__ if c in TRANSLATIONS), None)
    if rule is None:
        return InternalError("an unexpected error occurred")
    message = rule.message if isinstance(rule.message, str) else rule.message(exc)
    return rule.error(message, code=rule.code or getattr(exc, "code", None), details=rule.details(exc))
