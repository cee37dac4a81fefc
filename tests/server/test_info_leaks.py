"""Operator data stays with operators: no worker identity for anonymous probes or non-admin users."""

from __future__ import annotations

from typing import Any

import redis
from aiohttp.test_utils import TestClient

from store.jobs import transition
from tests.server.conftest import API, People
from tests.server.hub_helpers import Jobs, connect

WORKER = "gpu-host-7:48213"


async def _start_on_worker(jobs: Jobs, people: People, job_id: str) -> None:
    """The runner's claim: the job row and the ``running`` event name the worker."""
    async with jobs.sessions.begin() as session:
        result = await transition(
            session, job_id, "running", changes={"worker": WORKER}, payload={"attempt": 1, "worker": WORKER}
        )
    assert result is not None and result.event["worker"] == WORKER
    await jobs.publisher.publish(people.alice.id, result.event)


async def test_anonymous_readiness_says_a_worker_is_there_without_naming_it(
    client: TestClient[Any, Any], redis_url: str
) -> None:
    conn = redis.Redis.from_url(redis_url)
    try:
        conn.set("mlw:workers:gpu-host-7:48213", '{"hostname": "gpu-host-7", "pid": 48213}', ex=30)
    finally:
        conn.close()
    resp = await client.get(f"{API}/ready")
    body = await resp.json()
    detail = body["checks"]["worker"]["detail"]
    assert body["checks"]["worker"]["ok"] is True
    assert "48213" not in detail and "gpu-host-7" not in detail
    assert "worker" in detail


async def test_the_worker_is_shown_to_admins_only_in_the_job_and_its_audit_trail(
    hub_client: TestClient[Any, Any], people: People, jobs: Jobs
) -> None:
    job_id = await jobs.create(people.alice, await jobs.pipeline(people.alice))
    await _start_on_worker(jobs, people, job_id)

    for who, sees in ((people.alice, False), (people.admin, True)):
        job = await (await hub_client.get(f"{API}/training-jobs/{job_id}", headers=who.headers)).json()
        assert ("worker" in job) is sees and (job.get("worker") == WORKER or not sees)
        events = (await (await hub_client.get(f"{API}/training-jobs/{job_id}/events", headers=who.headers)).json())[
            "events"
        ]
        running = [e for e in events if e.get("status") == "running"]
        assert len(running) == 1
        assert (running[0].get("worker") == WORKER) is sees
        assert sees or WORKER not in str(events)


async def test_websocket_events_replays_and_snapshots_hide_the_worker_from_non_admins(
    hub_client: TestClient[Any, Any], people: People, jobs: Jobs
) -> None:
    pipeline = await jobs.pipeline(people.alice)
    job_id = await jobs.create(people.alice, pipeline)
    alice = await connect(hub_client, people.alice)
    admin = await connect(hub_client, people.admin)
    await alice.subscribe([{"job_id": job_id}])
    await admin.subscribe([{"job_id": job_id}])

    await _start_on_worker(jobs, people, job_id)  # live, through Redis
    await alice.wait_seq(job_id, 2)
    await admin.wait_seq(job_id, 2)
    assert "worker" not in alice.events(job_id)[-1]
    assert admin.events(job_id)[-1]["worker"] == WORKER

    late = await connect(hub_client, people.alice, how="frame")  # a replay from the database, and a snapshot
    snapshot = await late.subscribe([{"job_id": job_id}], since={job_id: 0})
    await late.wait_seq(job_id, 2)
    assert WORKER not in str(snapshot) and WORKER not in str(late.frames)
    admin_late = await connect(hub_client, people.admin)
    snapshot = await admin_late.subscribe([{"job_id": job_id}], since={job_id: 0})
    await admin_late.wait_seq(job_id, 2)
    assert snapshot["jobs"][0]["worker"] == WORKER
    assert admin_late.events(job_id)[-1]["worker"] == WORKER
