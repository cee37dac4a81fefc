"""Health, readiness, the OpenAPI document and the schemas that drive the forms."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from actors.ml.families import model_family_schemas
from actors.ml.node_types import node_type_schemas
from server.hub import HUB
from server.keys import OPENAPI, REDIS, SESSIONS, SETTINGS
from server.routing import Operation
from server.schemas.common import HealthOut, ModelFamiliesOut, NodeTypesOut, ReadyCheck, ReadyOut
from store.engine import ping, read_session

WORKER_KEY_PATTERN = "mlw:workers:*"
CHECK_TIMEOUT_S = 2.0


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _database_ok(request: web.Request) -> ReadyCheck:
    async with read_session(request.app[SESSIONS]) as session:
        await ping(session)
    return ReadyCheck(ok=True, detail="reachable")


async def _redis_ok(request: web.Request) -> ReadyCheck:
    await request.app[REDIS].ping()
    return ReadyCheck(ok=True, detail="reachable")


async def _worker_seen(request: web.Request) -> ReadyCheck:
    # The probe is anonymous: it says whether a worker is there, never which (host, pid).
    async for _key in request.app[REDIS].scan_iter(match=WORKER_KEY_PATTERN, count=100):
        return ReadyCheck(ok=True, detail="a worker sent a heartbeat recently")
    return ReadyCheck(ok=False, detail="no worker heartbeat seen recently")


async def _guarded(name: str, check: Coroutine[Any, Any, ReadyCheck]) -> ReadyCheck:
    try:
        return await asyncio.wait_for(check, CHECK_TIMEOUT_S)
    except TimeoutError:
        return ReadyCheck(ok=False, detail=f"{name} did not answer within {CHECK_TIMEOUT_S:g} s")
    except Exception as exc:  # a readiness probe reports failures, it does not raise them
        return ReadyCheck(ok=False, detail=f"{name} unreachable: {type(exc).__name__}")


def _hub_check(app: web.Application) -> ReadyCheck | None:
    if HUB not in app:  # the websocket hub is optional (e.g. an API-only process)
        return None
    status = app[HUB].status
    return ReadyCheck(ok=status.ready, detail=f"live-event subscription {status.state.value}")


async def ready(request: web.Request) -> web.Response:
    database = await _guarded("database", _database_ok(request))
    redis_check = await _guarded("redis", _redis_ok(request))
    if redis_check.ok:
        worker = await _guarded("redis", _worker_seen(request))
    else:
        worker = ReadyCheck(ok=False, detail="redis unreachable")
    checks = {"database": database, "redis": redis_check, "worker": worker}
    if (hub := _hub_check(request.app)) is not None:
        checks["hub"] = hub
    out = ReadyOut(ready=all(check.ok for check in checks.values()), checks=checks)
    return web.json_response(out.model_dump(mode="json"), status=200 if out.ready else 503)


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


async def node_types(request: web.Request) -> web.Response:
    limit = request.app[SETTINGS].jobs.max_runtime_limit_s
    return web.json_response({"node_types": node_type_schemas(max_runtime_limit_s=limit)})


async def model_families(request: web.Request) -> web.Response:
    return web.json_response({"model_families": model_family_schemas()})


_OPENAPI_CONTENT = {"application/json": {"schema": {"type": "object"}}}

OPERATIONS = [
    Operation("GET", "/health", health, "health", "The process is alive", "meta", {200: HealthOut}, public=True),
    Operation(
        "GET",
        "/ready",
        ready,
        "ready",
        "Database and Redis reachable, a worker seen recently",
        "meta",
        {200: ReadyOut, 503: ReadyOut},
        public=True,
    ),
    Operation("GET", "/openapi.json", openapi, "openapi", "This OpenAPI 3.1 document", "meta", {200: _OPENAPI_CONTENT}),
    Operation(
        "GET", "/node-types", node_types, "list_node_types", "Node types and their configs", "meta", {200: NodeTypesOut}
    ),
    Operation(
        "GET",
        "/model-families",
        model_families,
        "list_model_families",
        "Model families and their hyperparameters",
        "meta",
        {200: ModelFamiliesOut},
    ),
]
