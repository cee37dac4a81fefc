"""Headers every response carries, whatever produced it (a handler, an error, a static file)."""

from __future__ import annotations

from aiohttp import web

SECURITY_HEADERS: dict[str, str] = {"X-Content-Type-Options": "nosniff"}
"""Browsers must not guess a content type: JSON, artifacts and uploads are never run as script."""


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: set :data:`SECURITY_HEADERS` on ``response``."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def install_security_headers(app: web.Application) -> None:
    """Add the headers to every response of ``app`` (before it starts)."""
    app.on_response_prepare.append(add_security_headers)
