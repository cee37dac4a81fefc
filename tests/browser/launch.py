"""``mlw serve`` for the browser tests, with the websocket hub and the UI routed.

``server.serve.build_app`` is where the lead wires the hub and the UI into ``mlw serve``.
Until that lands, this launcher adds the real hub (``server.hub``) and the real UI
(``server.ui``) to whatever ``build_app`` returns; once ``mlw serve`` routes them itself,
nothing is added and this is exactly ``mlw serve``.

Usage: ``python -m tests.browser.launch --port 8123 --data-dir /tmp/x``
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from aiohttp import web

from server import cli, serve
from server.hub import HUB_PATH, add_hub_route, hub_ctx
from server.ui import add_ui_routes
from store.settings import Settings

_build_app = serve.build_app


def routed_paths(app: web.Application) -> set[str]:
    """The canonical paths the application routes."""
    return {route.resource.canonical for route in app.router.routes() if route.resource is not None}


def build_full_app(settings: Settings) -> web.Application:
    """``mlw serve``'s application, plus the hub and the UI when it does not route them yet."""
    app = _build_app(settings)
    paths = routed_paths(app)
    if HUB_PATH not in paths:
        app.cleanup_ctx.append(hub_ctx)
        add_hub_route(app)
    if "/" not in paths:
        add_ui_routes(app)
    return app


def main(argv: Sequence[str]) -> int:
    """Run ``mlw serve`` with ``argv`` (its options) on the full application."""
    serve.build_app = build_full_app
    return cli.main(["serve", *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
