"""Celery's own tools against a real ``mlw worker``: inspect, Flower, revoke.

The jobs are sent as the web process sends them (the ``train_model`` task, its one
argument the job id); Celery's CLI and a real Flower server watch them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from celery import Celery
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actors.jobs.broker import build_broker
from actors.jobs.service import cancel_training_job
from actors.jobs.training_actor import TRAINING_ACTOR, TRAINING_QUEUE
from store.models import ModelVersion
from store.settings import Settings
from tests.actors.jobs.test_worker_process import (
    LONG,
    REPO,
    SQLITE_ONLY,
    WorkerProcess,
    rewired,
    wait_progress,
    wait_status,
    worker,
    worker_env,
)
from tests.job_fixtures import JobWorld, graph_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300), SQLITE_ONLY]
__all__ = ["worker", "worker_env"]  # fixtures shared with test_worker_process

APP = "actors.jobs.worker_main"


@pytest.fixture
async def named_world(
    job_world: JobWorld, worker_env: dict[str, str], session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[JobWorld]:
    """The job world sending as the web process does: ``train_model`` declared before any worker."""

    def broker(settings: Settings) -> Any:
        built = build_broker(settings)  # as mlw serve builds it: the job actors declared, no worker
        assert TRAINING_ACTOR in built.named_tasks
        return built

    async with rewired(job_world, worker_env, session_factory, broker) as world:
        yield world


def celery(env: dict[str, str], *args: str) -> str:
    """Run ``celery -A actors.jobs.worker_main ARGS`` as an operator would; returns its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "celery", "-A", APP, *args], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"celery {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def inspect(env: dict[str, str], what: str) -> dict[str, Any]:
    out = celery(env, "inspect", what, "--json", "--timeout", "5")
    replies: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return replies


async def test_celery_inspect_sees_the_worker_and_train_model_running_with_its_job_id(
    named_world: JobWorld, worker: WorkerProcess, worker_env: dict[str, str]
) -> None:
    assert await asyncio.to_thread(inspect, worker_env, "ping")
    registered = await asyncio.to_thread(inspect, worker_env, "registered")
    assert any(TRAINING_ACTOR in tasks for tasks in registered.values()), registered
    stats = await asyncio.to_thread(inspect, worker_env, "stats")
    assert all(node["pool"]["max-concurrency"] == 1 for node in stats.values()), stats
    # The node's liveness record, written by its duties from the shim's node-ready hook.
    record = await liveness_record(worker_env["MLW_REDIS_URL"])
    assert (record["pool"], record["concurrency"], record["queues"]) == ("prefork", 1, ["training"]), record
    assert len(record["processes"]) == 1 and record["pid"] not in record["processes"], "the pool child runs jobs"
    assert record["node"] in stats, (record, list(stats))

    named_world.with_settings(one_active_per_node=False)
    job = await named_world.submit(graph_for("xgboost", hyperparameters=LONG["xgboost"]), dataset="slow")
    await wait_status(named_world, job.id, "running")
    active = await asyncio.to_thread(inspect, worker_env, "active")
    tasks = [task for node in active.values() for task in node]
    assert [(t["name"], t["args"]) for t in tasks] == [(TRAINING_ACTOR, [job.id])], active
    await cancel_training_job(named_world.ctx, named_world.reader, job.id)
    assert (await wait_status(named_world, job.id, "cancelled", "failed", "succeeded")).status == "cancelled"


async def liveness_record(redis_url: str) -> dict[str, Any]:
    """The one worker's ``mlw:workers:*`` record, once written (generous wait: a loaded machine)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        for _ in range(600):
            keys = await client.keys("mlw:workers:*")
            if keys:
                assert len(keys) == 1, keys
                raw = await client.get(keys[0])
                if raw is not None:
                    record: dict[str, Any] = json.loads(raw)
                    return record
            await asyncio.sleep(0.1)
        raise AssertionError("the worker wrote no liveness record")
    finally:
        await client.aclose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def flower(worker_env: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    """A real Flower server on the test's Redis (basic auth); yields its URL and auth header."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", APP, "flower", f"--port={port}", "--address=127.0.0.1",
         "--basic-auth=ops:secret"],
        cwd=REPO, env=worker_env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": "Basic " + base64.b64encode(b"ops:secret").decode()}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get_json(url + "/api/workers", headers)
                break
            except OSError:
                assert proc.poll() is None, "flower exited"
                assert time.monotonic() < deadline, "flower did not answer"
                time.sleep(0.2)
        yield url, headers
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def get_json(url: str, headers: dict[str, str]) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
        return json.loads(response.read())


async def test_flower_lists_the_worker_and_the_train_model_task_succeeding(
    named_world: JobWorld, worker: WorkerProcess, flower: tuple[str, dict[str, str]]
) -> None:
    url, headers = flower
    # Flower answers HTTP before its event receiver runs; a job finished before then is never seen.
    # A worker in its events state (``/workers?json=1``: heartbeats) means the receiver is live.
    deadline = time.monotonic() + 60
    while not [w for w in (await asyncio.to_thread(get_json, url + "/workers?json=1", headers))["data"]
               if w.get("status")]:
        assert time.monotonic() < deadline, "flower never received the worker's events"
        await asyncio.sleep(0.3)
    job = await named_world.submit(graph_for("logistic_regression"))
    assert (await wait_status(named_world, job.id, "succeeded", "failed")).status == "succeeded"
    deadline = time.monotonic() + 60
    seen: Any = None
    while time.monotonic() < deadline:
        tasks = await asyncio.to_thread(get_json, url + "/api/tasks", headers)
        seen = [t for t in tasks.values() if t.get("name") == TRAINING_ACTOR]
        if seen and seen[0].get("state") == "SUCCESS":
            break
        await asyncio.sleep(0.3)
    assert seen and seen[0]["state"] == "SUCCESS", seen
    assert job.id in str(seen[0]["args"])
    workers = await asyncio.to_thread(get_json, url + "/api/workers?refresh=1", headers)
    assert any(TRAINING_ACTOR in (info.get("registered") or []) for info in workers.values()), workers


async def versions_count(world: JobWorld) -> int:
    async with world.ctx.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(ModelVersion))).scalar_one())


@pytest.mark.parametrize("terminate", [False, True])
async def test_celery_revoke_of_a_running_training_task_cancels_its_job_cooperatively(
    named_world: JobWorld, worker: WorkerProcess, worker_env: dict[str, str], terminate: bool
) -> None:
    named_world.with_settings(one_active_per_node=False)
    before = await versions_count(named_world)
    job = await named_world.submit(graph_for("xgboost", hyperparameters=LONG["xgboost"]), dataset="slow")
    await wait_status(named_world, job.id, "running")
    await wait_progress(named_world, job.id)
    active = await asyncio.to_thread(inspect, worker_env, "active")
    (task_id,) = [t["id"] for node in active.values() for t in node if t["args"] == [job.id]]
    worker_pids = {t["worker_pid"] for node in active.values() for t in node}
    if terminate:  # what Flower's "terminate" button sends (the CLI has no such flag)
        control = Celery(broker=worker_env["MLW_REDIS_URL"], set_as_current=False)
        await asyncio.to_thread(control.control.revoke, task_id, terminate=True, signal="SIGKILL")
        control.close()
    else:
        await asyncio.to_thread(celery, worker_env, "control", "revoke", task_id)
    done = await wait_status(named_world, job.id, "cancelled", "failed", "succeeded", within_s=2.0)
    assert done.status == "cancelled"
    events = await named_world.events(job.id)
    cancelling = [e for e in events if e.get("status") == "cancelling"]
    assert cancelling and cancelling[0]["requested_by"] == "celery:revoke"
    assert (cancelling[0]["celery_task_id"], cancelling[0]["terminate_requested"]) == (task_id, terminate)
    assert not any(e.get("forced") for e in events), "it stopped at a checkpoint"
    assert await versions_count(named_world) == before
    for pid in worker_pids:
        os.kill(pid, 0)  # the pool process was not terminated
    follow_up = await named_world.submit(graph_for("logistic_regression"))
    assert (await wait_status(named_world, follow_up.id, "succeeded", "failed")).status == "succeeded"


async def test_celery_revoke_of_a_queued_training_task_cancels_its_job_when_the_worker_discards_it(
    named_world: JobWorld, worker: WorkerProcess, worker_env: dict[str, str], redis_url: str
) -> None:
    # No fair-share hold: the second job's message is sent at once and waits in Redis.
    named_world.with_settings(one_active_per_node=False, max_running_per_user=0)
    busy = await named_world.submit(graph_for("xgboost", hyperparameters=LONG["xgboost"]), dataset="slow")
    await wait_status(named_world, busy.id, "running")
    waiting = await named_world.submit(graph_for("logistic_regression"))
    client = aioredis.Redis.from_url(redis_url)
    try:
        raw = await client.lindex(TRAINING_QUEUE, 0)
    finally:
        await client.aclose()
    assert raw is not None, "the second job waits in Redis while the one-process worker is busy"
    queued = json.loads(raw)["headers"]
    assert queued["task"] == TRAINING_ACTOR and queued["argsrepr"] == repr((waiting.id,))
    await asyncio.to_thread(celery, worker_env, "control", "revoke", queued["id"])
    await cancel_training_job(named_world.ctx, named_world.reader, busy.id)
    assert (await wait_status(named_world, busy.id, "cancelled", "failed", "succeeded")).status == "cancelled"
    done = await wait_status(named_world, waiting.id, "cancelled", "failed", "succeeded", within_s=60)
    assert (done.status, done.started_at) == ("cancelled", None), "the revoked job never ran"
    events = await named_world.events(waiting.id)
    assert events[-1]["requested_by"] == "celery:revoke" and events[-1]["was_running"] is False
