"""The UI routes: page paths answer the HTML shell, static files are served, no token needed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient

from server.ui import STATIC_DIR, add_ui_routes, content_security_policy

Client = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


async def test_every_page_path_answers_the_html_shell_without_a_token(aiohttp_client: Client) -> None:
    app = web.Application()
    add_ui_routes(app)
    client = await aiohttp_client(app)
    for path in ("/", "/user/training-jobs", "/user/training-jobs/3f1c2d0e-job"):
        response = await client.get(path)
        assert response.status == 200, path
        assert response.content_type == "text/html"
        assert '<script type="module" src="/static/js/main.js">' in await response.text()
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]


async def test_static_modules_are_served_with_a_javascript_type(aiohttp_client: Client) -> None:
    app = web.Application()
    add_ui_routes(app)
    client = await aiohttp_client(app)
    response = await client.get("/static/js/main.js")
    assert response.status == 200
    assert response.content_type in ("application/javascript", "text/javascript")
    assert (await client.get("/static/js/no-such-module.js")).status == 404
    assert (await client.get("/static/../ui.py")).status in (403, 404)


def test_every_module_the_shell_imports_exists() -> None:
    modules = sorted(p.relative_to(STATIC_DIR).as_posix() for p in (STATIC_DIR / "js").rglob("*.js"))
    assert "js/main.js" in modules
    for path in (STATIC_DIR / "js").rglob("*.js"):
        for line in path.read_text().splitlines():
            if line.startswith("import ") and " from " in line:
                target = line.rsplit(" from ", 1)[1].strip(" ;\"'")
                assert (path.parent / target).resolve().is_file(), f"{path.name} imports missing {target}"


def test_the_policy_allows_websockets_to_the_page_host_only() -> None:
    policy = content_security_policy("example.test:8080")
    assert "connect-src 'self' ws://example.test:8080 wss://example.test:8080" in policy
    assert "frame-ancestors 'none'" in policy
