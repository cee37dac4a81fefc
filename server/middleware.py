"""The error middleware: every failure leaves the server as a JSON error document.

Router misses (404, 405), body-size violations (413), validation failures, store and
engine errors and unexpected exceptions all become ``{"error": {...}}`` responses; an
unexpected exception is logged here and answered with a 500 that carries no traceback.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from server.errors import (
    RETRY_AFTER_S,
    ApiError,
    BadRequest,
    ConflictError,
    Forbidden,
    InternalError,
    MethodNotAllowed,
    NotFoundError,
    PayloadTooLarge,
    Unauthorized,
    UnprocessableEntity,
    to_api_error,
)

log = logging.getLogger(__name__)

_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFoundError,
    405: MethodNotAllowed,
    409: ConflictError,
    413: PayloadTooLarge,
    422: UnprocessableEntity,
}


def error_response(error: ApiError, *, headers: dict[str, str] | None = None) -> web.Response:
    """The JSON response for ``error``."""
    return web.json_response(error.body(), status=error.status, headers=headers)


def _from_http_exception(exc: web.HTTPException) -> ApiError:
    if exc.status == 404:
        return NotFoundError("no such resource", details={})
    if exc.status == 405:
        allowed = sorted(getattr(exc, "allowed_methods", ()) or ())
        return MethodNotAllowed("method not allowed on this resource", details={"allowed": allowed})
    if exc.status == 413:
        return PayloadTooLarge("the request body is too large", details={})
    cls = _BY_STATUS.get(exc.status)
    if cls is None:
        return InternalError("an unexpected error occurred")
    return cls(exc.reason or cls.default_code)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every exception raised below into a JSON error response."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = {"Allow": exc.headers.get("Allow", "")} if exc.status == 405 else None
        return error_response(_from_http_exception(exc), headers=allow)
    except ApiError as exc:
        return error_response(exc, headers=_headers(exc))
    except Exception as exc:  # the edge: nothing below may leak a traceback to the client
        error = to_api_error(exc)
        if error.status == 503:
            log.warning("%s %s: %s: %s", request.method, request.path, type(exc).__name__, exc)
        elif error.status >= 500:
            log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(error, headers=_headers(error))


def _headers(error: ApiError) -> dict[str, str] | None:
    if error.status == 401:
        return {"WWW-Authenticate": "Bearer"}
    if error.status in (429, 503):
        return {"Retry-After": str(RETRY_AFTER_S)}
    return None
