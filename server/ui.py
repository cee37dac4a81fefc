"""The browser UI: the canvas at ``/``, the dashboard at ``/user/training-jobs``, static files.

The UI is plain JavaScript modules and CSS under ``server/static/`` (no build step). Every
page route answers the same HTML shell; the client-side router picks the view from the
path. None of these routes needs a token: the token is entered in the page and sent by
the page's own API calls.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/static"
SHELL = "index.html"
PAGE_PATHS = (
    "/", "/pipelines", "/user/training-jobs", "/user/training-jobs/{job_id}", "/user/training-jobs/{job_id}/report",
    "/admin/workers",
)


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]{{2,45}}\])(?::[0-9]{{1,5}})?")


def valid_host(host: str) -> str | None:
    """``host`` when it is a plain ``name[:port]`` or ``[ipv6][:port]``, else ``None``.

    The ``Host`` header is chosen by the client; only a value of this shape may be written
    into a header of the response (a ``;`` would start a new CSP directive).
    """
    return host if len(host) <= 261 and _HOST.fullmatch(host) else None


def content_security_policy(host: str) -> str:
    """The page's CSP: same-origin scripts, styles, API calls and websockets only.

    ``'self'`` covers same-origin websockets in current browsers; the explicit ``ws:`` and
    ``wss:`` sources, for older ones, are added only for a :func:`valid_host`.
    """
    checked = valid_host(host)
    sockets = f"ws://{checked} wss://{checked}" if checked else ""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            f"connect-src 'self' {sockets}".strip(),
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ]
    )


async def page(request: web.Request) -> web.FileResponse:
    """The HTML shell of every page; the client-side router chooses the view."""
    headers = {
        "Content-Security-Policy": content_security_policy(request.host),
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    return web.FileResponse(STATIC_DIR / SHELL, headers=headers)


def add_ui_routes(app: web.Application) -> None:
    """Route the page paths to the HTML shell and ``/static/...`` to ``server/static``.

    Args:
        app: The application (``server.app.create_app``); call before it starts.
    """
    for index, path in enumerate(PAGE_PATHS):
        app.router.add_get(path, page, name=f"ui_page_{index}")
    app.router.add_static(STATIC_PREFIX, STATIC_DIR, name="ui_static", append_version=False)
