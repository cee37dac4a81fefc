"""The error middleware: every failure leaves the server as a JSON error document.

Router misses (404, 405), body-size violations (413), validation failures, store and
engine errors and unexpected exceptions all become ``{"error": {...}}`` responses; an
unexpected exception is logged here and answered with a 500 that carries no traceback.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http_exceptions import ContentEncodingError, HttpProcessingError
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestPayloadError

from server.errors import (
    ApiError,
    BadRequest,
    ConflictError,
    Forbidden,
    InternalError,
    MethodNotAllowed,
    NotFoundError,
    PayloadTooLarge,
    TooManyRequests,
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


def _unreadable_body(request: web.Request, exc: Exception) -> ApiError:
    cause = exc if isinstance(exc, HttpProcessingError) else exc.__cause__
    if isinstance(cause, ContentEncodingError):
        encoding = request.headers.get("Content-Encoding", "")
        return BadRequest(
            f"the request body cannot be decoded as Content-Encoding {encoding!r}: it is not valid {encoding} data",
            code="bad_content_encoding",
            details={"field": "Content-Encoding", "content_encoding": encoding},
        )
    text = cause.message if isinstance(cause, HttpProcessingError) else str(exc)
    return BadRequest(f"the request body cannot be read: {text}"[:300], code="bad_body", details={})


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
    except (RequestPayloadError, HttpProcessingError) as exc:
        # The body could not be read (e.g. announced as gzip but not gzip): the client's fault on any route.
        return error_response(_unreadable_body(request, exc))
    except ApiError as exc:
        extra = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if isinstance(exc, TooManyRequests):
            extra = {"Retry-After": str(exc.retry_after_s)}
        return error_response(exc, headers=extra)
    except Exception as exc:  # the edge: nothing below may leak a traceback to the client
        error = to_api_error(exc)
        if error.status >= 500:
            log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(error)
