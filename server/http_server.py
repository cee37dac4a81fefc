"""Serving the application: aiohttp's runner with JSON protocol errors and a redacted access log.

aiohttp answers some requests before any middleware runs: a request line or header too
long, a malformed request, a handler that timed out. Its ``RequestHandler.handle_error``
writes those as ``text/plain``. :class:`JsonErrorRequestHandler` writes them as the same
``{"error": {...}}`` document, with the same security headers, as every other error.
"""

from __future__ import annotations

import asyncio
import gc
import signal
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from server.errors import ApiError, BadRequest, InternalError, ServiceUnavailable
from server.redact import RedactingAccessLogger
from server.security_headers import SECURITY_HEADERS

_PROTOCOL_ERRORS: dict[int, tuple[type[ApiError], str]] = {
    400: (BadRequest, "the request could not be parsed: a malformed request line or header, or headers too large"),
    503: (ServiceUnavailable, "the server is shutting down or overloaded; retry shortly"),
    504: (ServiceUnavailable, "the request took too long to handle; retry shortly"),
}


def protocol_error_body(status: int) -> dict[str, Any]:
    """The JSON document answered for an error raised below the application."""
    cls, message = _PROTOCOL_ERRORS.get(status, (InternalError, "an unexpected error occurred"))
    return cls(message).body()


class JsonErrorRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering protocol-level errors with JSON."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # The parent logs the error and raises when part of a response went out already.
        super().handle_error(request, status, exc, message)
        response = web.json_response(protocol_error_body(status), status=status, headers=SECURITY_HEADERS)
        response.force_close()
        return response


class JsonErrorServer(web.Server):
    """A :class:`web.Server` whose connections use :class:`JsonErrorRequestHandler`."""

    def __call__(self) -> RequestHandler:
        return JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


class JsonErrorAppRunner(web.AppRunner):
    """An :class:`web.AppRunner` serving through :class:`JsonErrorServer`."""

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        # Same handler, request factory and keyword arguments as aiohttp built; only the
        # connection handler class differs. (aiohttp offers no public hook for it.)
        return JsonErrorServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            **plain._kwargs,
        )


def app_runner(app: web.Application, *, shutdown_timeout: float = 10.0) -> JsonErrorAppRunner:
    """The runner ``mlw serve`` uses: JSON protocol errors, a redacted access log."""
    return JsonErrorAppRunner(app, access_log_class=RedactingAccessLogger, shutdown_timeout=shutdown_timeout)


async def serve_until_signalled(app: web.Application, host: str, port: int, *, shutdown_timeout: float = 10.0) -> None:
    """Serve ``app`` on ``host:port`` until SIGINT or SIGTERM, then shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = app_runner(app, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    # What is alive once the app has started (modules, pandas and scikit-learn among them,
    # the app itself) lives as long as the process: out of the collector's generations with
    # it. A full collection walked all of it with the GIL held, about 0.5 s on a loaded
    # machine, and the garbage of large requests (a 995-node graph is tens of thousands of
    # objects) triggered one every few requests: every other request stalled that long.
    gc.collect()
    gc.freeze()
    try:
        await web.TCPSite(runner, host, port).start()
        await stop.wait()
    finally:
        await runner.cleanup()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
