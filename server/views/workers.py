"""``GET /workers``: admins see each training worker, its pool and the jobs it runs.

Built from the data the reaper trusts: each worker's liveness key (``mlw:workers:<host:pid>``,
refreshed every few seconds with its pool size and job processes) and the running jobs'
rows (``worker`` = ``host:pid`` of the process running the fit, ``heartbeat_at``). Like the
other admin routes, anyone else gets 403.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from aiohttp import web

from server.auth import reader_of
from server.errors import Forbidden
from server.keys import REDIS, SESSIONS
from server.routing import Operation
from server.schemas.workers import WorkersOut
from server.serialize import iso
from store.engine import read_session
from store.job_queries import active_jobs_by_worker

WORKER_KEY_PATTERN = "mlw:workers:*"


def _record(raw: Any) -> dict[str, Any]:
    try:
        record = json.loads(raw) if raw else {}
    except ValueError:
        record = {}
    return record if isinstance(record, dict) else {}


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def assemble(records: dict[str, dict[str, Any]], jobs: list[tuple[str, str | None, str, Any]]) -> dict[str, Any]:
    """The response from the liveness records (by key name) and the active jobs; pure."""
    owner_of: dict[str, str] = {}
    for name, record in records.items():
        host = name.rsplit(":", 1)[0]
        pids = [pid for pid in record.get("processes") or [] if isinstance(pid, int)]
        for pid in [*pids, _int_or_none(record.get("pid"))]:
            if pid is not None:
                owner_of[f"{host}:{pid}"] = name
    running: dict[str, list[dict[str, Any]]] = {name: [] for name in records}
    unattached: list[dict[str, Any]] = []
    for job_id, worker, status, heartbeat in jobs:
        item = {"id": job_id, "status": status, "worker": worker, "heartbeat_at": iso(heartbeat)}
        owner = owner_of.get(worker or "")
        (running[owner] if owner is not None else unattached).append(item)
    workers = []
    for name in sorted(records):
        record = records[name]
        at = record.get("at")
        queues = record.get("queues")
        workers.append({
            "name": name,
            "host": name.rsplit(":", 1)[0],
            "pid": _int_or_none(record.get("pid")),
            "node": record.get("node") if isinstance(record.get("node"), str) else None,
            "pool": record.get("pool") if isinstance(record.get("pool"), str) else None,
            "concurrency": _int_or_none(record.get("concurrency")),
            "queues": [str(q) for q in queues] if isinstance(queues, list) else [],
            "last_heartbeat": iso(dt.datetime.fromtimestamp(at, dt.UTC)) if isinstance(at, int | float) else None,
            "jobs_running": running[name],
        })
    return {"workers": workers, "unattached_jobs": unattached}


async def list_workers(request: web.Request) -> web.Response:
    if not reader_of(request).is_admin:
        raise Forbidden("only admins may list workers", code="admin_only")
    client = request.app[REDIS]
    keys = [key async for key in client.scan_iter(match=WORKER_KEY_PATTERN, count=100)]
    values = await client.mget(keys) if keys else []
    records = {}
    for key, raw in zip(keys, values, strict=True):
        if raw is None:  # expired between the scan and the read
            continue
        name = (key.decode() if isinstance(key, bytes) else str(key)).removeprefix("mlw:workers:")
        records[name] = _record(raw)
    async with read_session(request.app[SESSIONS]) as session:
        jobs = await active_jobs_by_worker(session)
    return web.json_response(assemble(records, jobs))


OPERATIONS = [
    Operation(
        "GET", "/workers", list_workers, "list_workers",
        "Admins: live workers (host, pid, pool size, last heartbeat) and the jobs each runs", "admin",
        {200: WorkersOut}, errors=(403,),
    ),
]
