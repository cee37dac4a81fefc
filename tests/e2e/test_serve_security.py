"""``mlw serve`` as deployed: no token in any log line, JSON and nosniff on every error, a CSP no Host can bend.

One real ``mlw serve --no-worker`` (SQLite, embedded Redis) for the module; its combined
output is the log an operator would collect.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import aiohttp
import pytest

from tests.e2e.conftest import Deployment, WebProcess
from tests.e2e.processes import API, WS_PATH
from tests.hostile.rawhttp import raw_request


@dataclasses.dataclass(frozen=True)
class Served:
    web: WebProcess
    token: str
    host: str
    port: int


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    node = Deployment({"MLW_DATA_DIR": str(tmp_path_factory.mktemp("serve-security"))})
    try:
        web = node.start_web()
        web.wait_serving()
        token = node.create_user("carol")
        port = int(web.url.rsplit(":", 1)[1])
        yield Served(web, token, "127.0.0.1", port)
    finally:
        node.stop()


async def _wait_for_log(web: WebProcess, needle: str) -> None:
    for _ in range(100):
        if any(needle in line for line in web.process.lines):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no log line with {needle!r}:\n{web.process.tail()}")


async def test_no_token_reaches_the_log_from_a_websocket_query_a_header_or_a_rest_query(served: Served) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{served.web.url}{WS_PATH}?token={served.token}&probe=ws-query") as ws:
            welcome = await ws.receive_json(timeout=10)
            assert welcome["type"] == "welcome"
        headers = {"Authorization": f"Bearer {served.token}", "Referer": f"{served.web.url}/?token={served.token}"}
        async with http.get(f"{served.web.url}{API}/datasets/probe=rest-header", headers=headers) as resp:
            assert resp.status == 404
        async with http.get(f"{served.web.url}{API}/health?token={served.token}&probe=rest-query") as resp:
            assert resp.status == 200
    for probe in ("ws-query", "rest-header", "rest-query"):
        await _wait_for_log(served.web, f"probe={probe}")
    leaked = [line for line in served.web.process.lines if served.token in line]
    assert leaked == [], "the token was written to the log"
    assert any("token=[REDACTED]" in line and "probe=ws-query" in line for line in served.web.process.lines)


async def test_oversized_headers_get_a_json_400_with_nosniff(served: Served) -> None:
    resp = await raw_request(served.host, served.port, "GET", f"{API}/health", headers={"X-Big": "a" * 20_000})
    assert resp.status == 400
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.headers["x-content-type-options"] == "nosniff"
    error = resp.json()["error"]
    assert error["code"] == "bad_request" and "header" in error["message"]


async def test_a_malformed_request_line_gets_a_json_400(served: Served) -> None:
    resp = await raw_request(served.host, served.port, "GET", "/ml-workflow/api/health HTTP/1.1 junk")
    assert resp.status == 400
    assert set(resp.json()["error"]) == {"code", "message", "details"}


async def test_a_host_header_cannot_inject_a_csp_directive(served: Served) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{served.web.url}/", headers={"Host": "x; frame-ancestors *"}) as resp,
    ):
        status, csp = resp.status, resp.headers.get("Content-Security-Policy", "")
    assert status == 200 and csp
    assert "frame-ancestors *" not in csp and csp.count("frame-ancestors") == 1
    assert "x;" not in csp


async def test_static_files_api_errors_and_refused_websocket_handshakes_carry_nosniff(served: Served) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/static/js/main.js", f"{API}/health", f"{API}/no-such-route", WS_PATH, "/static/missing.js"):
            async with http.get(f"{served.web.url}{path}") as resp:
                assert resp.headers.get("X-Content-Type-Options") == "nosniff", (path, resp.status)
