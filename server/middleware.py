"""The error middleware: every failure leaves the server as a JSON error document.

Router misses (404, 405), body-size violations (413), bodies that cannot be decoded
(400, 415), validation failures, store and ML (``ModelError``) errors and unexpected exceptions all
become ``{"error": {...}}`` responses; an unexpected exception is logged here and answered
with a 500 that carries no traceback.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http_exceptions import ContentEncodingError
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestPayloadError

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
    UnsupportedMediaType,
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
    415: UnsupportedMediaType,
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
    return cls(exc.reason or cls.code)


DECODED_CODINGS = frozenset({"identity", "gzip", "deflate", "br", "zstd"})
"""The ``Content-Encoding`` values aiohttp decodes (``br``/``zstd`` only with their library
installed; without it aiohttp itself refuses the request before any handler runs)."""


def _coding_problem(request: web.Request) -> ApiError | None:
    """A body in a coding aiohttp does not decode would otherwise be read as if it were plain."""
    raw = request.headers.get("Content-Encoding")
    if raw is None or raw.strip().lower() in DECODED_CODINGS:
        return None
    return UnsupportedMediaType(
        f"Content-Encoding {raw.strip()[:50]!r} is not supported; send the body plain, gzip or deflate",
        details={"location": "header", "field": "Content-Encoding"},
    )


def _unreadable_body(request: web.Request, exc: RequestPayloadError) -> ApiError:
    if isinstance(exc.__cause__, ContentEncodingError):
        coding = request.headers.get("Content-Encoding", "").strip()[:50]
        return BadRequest(
            f"the request body is not valid {coding} data (Content-Encoding: {coding})",
            code="bad_content_encoding",
            details={"location": "header", "field": "Content-Encoding"},
        )
    return BadRequest("the request body could not be read", details={"field": "body"})


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every exception raised below into a JSON error response."""
    if (refused := _coding_problem(request)) is not None:
        return error_response(refused)
    try:
        return await handler(request)
    except RequestPayloadError as exc:
        # The rest of the body cannot be drained either: answer, then close the connection.
        response = error_response(_unreadable_body(request, exc))
        response.force_close()
        return response
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
