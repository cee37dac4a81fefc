"""``GET /workers``: admins see live workers and the jobs they run; others get 403."""

from __future__ import annotations

import json
import time
from typing import Any

import redis
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from server.views.workers import assemble
from store.models import TrainingJob
from store.settings import Settings
from tests.server.conftest import API, People
from tests.server.seed import add_job, graph, save_pipeline, upload_csv, writer

WORKERS = f"{API}/workers"


async def test_only_admins_may_list_workers(client: TestClient[Any, Any], people: People) -> None:
    resp = await client.get(WORKERS, headers=people.alice.headers)
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "admin_only"
    assert (await client.get(WORKERS)).status == 401


async def test_an_admin_sees_each_worker_its_pool_heartbeat_and_running_jobs(
    client: TestClient[Any, Any], people: People, settings: Settings, redis_url: str
) -> None:
    dataset = await upload_csv(client, people.alice)
    pipeline = await save_pipeline(client, people.alice, dataset, graph())
    running, _ = await add_job(settings, people.alice, pipeline, "train-1", dataset, status="running")
    lost, _ = await add_job(settings, people.alice, pipeline, "train-1", dataset, status="running")
    async with writer(settings) as session:
        await session.execute(update(TrainingJob).where(TrainingJob.id == running).values(worker="host-a:202"))
        await session.execute(update(TrainingJob).where(TrainingJob.id == lost).values(worker="host-gone:9"))
    now = time.time()
    conn = redis.Redis.from_url(redis_url)
    conn.set("mlw:workers:host-a:200", json.dumps({
        "hostname": "host-a:200", "pid": 200, "at": now, "concurrency": 2, "pool": "prefork",
        "node": "shim-200@host-a", "processes": [201, 202], "queues": ["training"],
    }), ex=30)
    conn.set("mlw:workers:host-b:7", json.dumps({"hostname": "host-b:7", "pid": 7, "at": now}), ex=30)

    resp = await client.get(WORKERS, headers=people.admin.headers)
    assert resp.status == 200
    body = await resp.json()
    by_name = {w["name"]: w for w in body["workers"]}
    assert set(by_name) == {"host-a:200", "host-b:7"}
    a = by_name["host-a:200"]
    assert (a["host"], a["pid"], a["concurrency"], a["pool"], a["node"], a["queues"]) == (
        "host-a", 200, 2, "prefork", "shim-200@host-a", ["training"],
    )
    assert a["last_heartbeat"] is not None
    assert [job["id"] for job in a["jobs_running"]] == [running]
    assert by_name["host-b:7"]["jobs_running"] == [] and by_name["host-b:7"]["concurrency"] is None
    assert [job["id"] for job in body["unattached_jobs"]] == [lost]


def test_a_malformed_liveness_record_still_lists_the_worker() -> None:
    record = {"pid": "x", "processes": "nope", "at": "soon", "queues": 3}
    out = assemble({"h:1": record}, [("j", "h:1", "running", None)])
    (worker,) = out["workers"]
    assert (worker["pid"], worker["last_heartbeat"], worker["queues"]) == (None, None, [])
    assert out["unattached_jobs"] == [{"id": "j", "status": "running", "worker": "h:1", "heartbeat_at": None}]
