"""Health, readiness, OpenAPI, node types and model families."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import redis
from aiohttp.test_utils import TestClient

from store.settings import Settings
from tests.server.conftest import API, People


async def test_health_answers_without_a_token(client: TestClient[Any, Any]) -> None:
    resp = await client.get(f"{API}/health")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_ready_is_503_until_a_worker_heartbeat_is_seen(client: TestClient[Any, Any], redis_url: str) -> None:
    resp = await client.get(f"{API}/ready")
    assert resp.status == 503
    body = await resp.json()
    assert body["ready"] is False
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is False

    conn = redis.Redis.from_url(redis_url)
    try:
        conn.set("mlw:workers:host-1", json.dumps({"hostname": "host-1", "pid": 1, "at": 0}), ex=30)
    finally:
        conn.close()
    resp = await client.get(f"{API}/ready")
    assert resp.status == 200
    body = await resp.json()
    assert body["ready"] is True
    assert "host-1" not in body["checks"]["worker"]["detail"]


async def test_node_types_and_model_families_drive_the_forms(client: TestClient[Any, Any], people: People) -> None:
    resp = await client.get(f"{API}/node-types", headers=people.alice.headers)
    assert resp.status == 200
    types = {t["type"] for t in (await resp.json())["node_types"]}
    assert {"dataset_source", "train_test_split", "train_model"} <= types

    resp = await client.get(f"{API}/model-families", headers=people.alice.headers)
    assert resp.status == 200
    families = (await resp.json())["model_families"]
    assert len(families) >= 5


async def test_the_openapi_document_is_version_3_1_and_lists_every_route(
    client: TestClient[Any, Any], people: People
) -> None:
    resp = await client.get(f"{API}/openapi.json", headers=people.bob.headers)
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"] == "3.1.0"
    routes = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    registered = {
        (r.method, r.resource.canonical)
        for r in client.app.router.routes()
        if r.resource is not None and r.method != "HEAD"
    }
    assert routes == registered


async def test_ready_reports_the_websocket_hub_when_it_is_plugged_in(
    settings: Settings, people: People, aiohttp_client: Any
) -> None:
    from server.app import create_app
    from server.hub import add_hub_route, hub_ctx

    app = create_app(settings, extra_contexts=[hub_ctx])
    add_hub_route(app)
    client = await aiohttp_client(app)
    for _ in range(100):
        body = await (await client.get(f"{API}/ready")).json()
        if body["checks"]["hub"]["ok"]:
            break
        await asyncio.sleep(0.05)
    assert body["checks"]["hub"] == {"ok": True, "detail": "live-event subscription up"}
