"""The training actor in a real ``mlw worker`` process on Redis: cancel, timeout, SIGKILL.

Each test starts its own worker subprocess (prefork, one child) against the test Redis
and a migrated database, submits jobs through the service as the API would, and watches
the database, which is the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actors.jobs.cancel_signal import RedisCancelSignals
from actors.jobs.context import JobContext
from actors.jobs.publish import RedisPublisher
from actors.jobs.sending import make_sender
from actors.jobs.service import cancel_training_job
from bench._cluster import clean_env
from shim.brokers.redis import RedisBroker
from store.settings import Settings, load_settings
from tests.e2e.processes import ManagedProcess, mlw
from tests.job_fixtures import JobWorld, graph_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
SQLITE_ONLY = pytest.mark.parametrize("migrated_database_url", ["sqlite"], indirect=True)

REPO = Path(__file__).resolve().parents[3]
ENV_SETTINGS = {
    "MLW_JOBS_HEARTBEAT_S": "0.2",
    "MLW_JOBS_STALE_AFTER_S": "2",
    "MLW_JOBS_REAPER_INTERVAL_S": "0.5",
    "MLW_JOBS_CANCEL_GRACE_S": "5",
    "MLW_WORKER_CONCURRENCY": "1",
    # No worker test reads the explain stage's findings (tests/actors/jobs/test_runner_insights.py does, in
    # process); it would add seconds to minutes of SHAP after every fit on the ``slow`` dataset.
    "MLW_INSIGHTS_EXPLAIN": "false",
}


class WorkerProcess(ManagedProcess):
    """An ``mlw worker`` subprocess whose output is collected in the background; :meth:`start` waits for it."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__("worker", mlw("worker", "--loglevel", "info"), env)

    def start(self, timeout: float = 90.0) -> WorkerProcess:
        """Start the worker and wait until it says it is ready."""
        super().start()
        try:
            self.wait_for_line("shim worker ready", timeout)
        except AssertionError:
            self.stop()
            raise
        return self


@contextlib.contextmanager
def running_worker(env: dict[str, str]) -> Iterator[WorkerProcess]:
    """A started worker, stopped on exit; then its last lines are printed (pytest shows them when a test failed)."""
    process = WorkerProcess(env).start()
    try:
        yield process
    finally:
        process.stop()
        print(process.tail())


@pytest.fixture
def worker_env(job_world: JobWorld, redis_url: str, migrated_database_url: str) -> dict[str, str]:
    """Environment for a worker that shares the test's database, data dir and Redis."""
    return clean_env({**ENV_SETTINGS, "MLW_REDIS_URL": redis_url, "MLW_DATABASE_URL": migrated_database_url,
                      "MLW_DATA_DIR": str(job_world.ctx.settings.data_dir)})


@pytest.fixture
def worker(worker_env: dict[str, str]) -> Iterator[WorkerProcess]:
    """A running ``mlw worker`` (one prefork child)."""
    with running_worker(worker_env) as process:
        yield process


@pytest.fixture
async def live_world(
    job_world: JobWorld, worker_env: dict[str, str], session_factory: async_sessionmaker[AsyncSession]
) -> AsyncIterator[JobWorld]:
    """The job world, rewired to the worker's Redis: real publisher, cancel signals and sender."""

    def broker(settings: Settings) -> Any:
        return RedisBroker(url=worker_env["MLW_REDIS_URL"], visibility_timeout_s=settings.worker.visibility_timeout_s)

    async with rewired(job_world, worker_env, session_factory, broker) as world:
        yield world


@contextlib.asynccontextmanager
async def rewired(world: JobWorld, worker_env: dict[str, str], sessions: async_sessionmaker[AsyncSession],
                  broker_for: Callable[[Settings], Any]) -> AsyncIterator[JobWorld]:
    """``world`` on the worker's settings and Redis (real publisher and cancel signals), sending through the
    broker ``broker_for`` builds; its Redis client and broker are closed on exit."""
    settings = load_settings({k: v for k, v in worker_env.items() if k.startswith("MLW_")})
    client = aioredis.Redis.from_url(worker_env["MLW_REDIS_URL"])
    broker = broker_for(settings)
    world.ctx = JobContext(
        settings=settings, sessions=sessions, publisher=RedisPublisher(client),
        cancel_signals=RedisCancelSignals(client), sender=make_sender(broker, settings.jobs),
    )
    try:
        yield world
    finally:
        await client.aclose()
        broker.close()


async def wait_status(world: JobWorld, job_id: str, *statuses: str, within_s: float = 120.0) -> Any:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        job = await world.job(job_id)
        if job.status in statuses:
            return job
        await asyncio.sleep(0.05)
    job = await world.job(job_id)
    raise AssertionError(f"job {job_id} is {job.status}, not {statuses} after {within_s}s")


async def wait_progress(world: JobWorld, job_id: str, within_s: float = 120.0) -> None:
    """Wait until the fit reported progress (so it is truly inside the fit)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        job = await world.job(job_id)
        if job.progress and job.progress.get("stage") == "fit" and job.progress.get("completed", 0) > 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no fit progress was reported")


LONG = {
    "xgboost": {"n_estimators": 10000},
    "lightgbm": {"n_estimators": 10000},
    "random_forest": {"n_estimators": 5000},
}


async def test_a_job_runs_to_success_in_a_worker_process(live_world: JobWorld, worker: WorkerProcess) -> None:
    job = await live_world.submit(graph_for("random_forest", hyperparameters={"n_estimators": 20}))
    done = await wait_status(live_world, job.id, "succeeded", "failed")
    assert (done.status, done.model_version, done.error_message) == ("succeeded", 1, None)
    assert done.worker and done.worker.split(":")[-1].isdigit()


@SQLITE_ONLY
@pytest.mark.parametrize("model_type", sorted(LONG))
async def test_cancelling_a_running_fit_in_a_worker_ends_cancelled_and_the_worker_takes_the_next_job(
    live_world: JobWorld, worker: WorkerProcess, model_type: str
) -> None:
    live_world.with_settings(one_active_per_node=False)
    job = await live_world.submit(graph_for(model_type, hyperparameters=LONG[model_type]), dataset="slow")
    await wait_status(live_world, job.id, "running")
    await wait_progress(live_world, job.id)
    await cancel_training_job(live_world.ctx, live_world.reader, job.id)
    done = await wait_status(live_world, job.id, "cancelled", "failed", "succeeded", within_s=30)
    assert done.status == "cancelled"
    assert not any(e.get("forced") for e in await live_world.events(job.id)), "it stopped at a checkpoint"
    follow_up = await live_world.submit(graph_for("logistic_regression"))
    assert (await wait_status(live_world, follow_up.id, "succeeded", "failed")).status == "succeeded"


@SQLITE_ONLY
async def test_cancelling_a_queued_job_in_a_busy_worker_skips_it(live_world: JobWorld, worker: WorkerProcess) -> None:
    live_world.with_settings(one_active_per_node=False)
    busy = await live_world.submit(graph_for("xgboost", hyperparameters=LONG["xgboost"]), dataset="slow")
    await wait_status(live_world, busy.id, "running")
    waiting = await live_world.submit(graph_for("logistic_regression"))
    cancelled = await cancel_training_job(live_world.ctx, live_world.reader, waiting.id)
    assert cancelled.status == "cancelled"
    await cancel_training_job(live_world.ctx, live_world.reader, busy.id)
    await wait_status(live_world, busy.id, "cancelled")
    after = await live_world.submit(graph_for("logistic_regression"))
    await wait_status(live_world, after.id, "succeeded")
    final = await live_world.job(waiting.id)
    assert (final.status, final.started_at) == ("cancelled", None), "the skipped job never ran"


@SQLITE_ONLY
async def test_a_job_past_its_max_runtime_in_a_worker_fails_with_timeout(
    live_world: JobWorld, worker: WorkerProcess
) -> None:
    graph = graph_for("lightgbm", hyperparameters=LONG["lightgbm"], max_runtime_s=2)
    job = await live_world.submit(graph, dataset="slow")
    done = await wait_status(live_world, job.id, "failed", "succeeded", "cancelled")
    assert (done.status, done.error_code) == ("failed", "timeout")


@SQLITE_ONLY
@pytest.mark.parametrize(("max_attempts", "expected"), [(3, "succeeded"), (1, "failed")])
async def test_sigkill_of_the_worker_child_mid_fit_is_retried_or_fails_with_worker_lost(
    live_world: JobWorld, worker_env: dict[str, str], max_attempts: int, expected: str
) -> None:
    worker_env["MLW_JOBS_MAX_ATTEMPTS"] = str(max_attempts)
    process = WorkerProcess(worker_env)
    process.start()
    try:
        job = await live_world.submit(graph_for("xgboost", hyperparameters={"n_estimators": 800}), dataset="slow")
        await wait_status(live_world, job.id, "running")
        await wait_progress(live_world, job.id)
        running = await live_world.job(job.id)
        child_pid = int((running.worker or "").rsplit(":", 1)[-1])
        assert child_pid != process.pid
        os.kill(child_pid, signal.SIGKILL)
        done = await wait_status(live_world, job.id, "succeeded", "failed", "cancelled", within_s=180)
        assert done.status == expected
        if expected == "succeeded":
            assert done.attempt == 2
            assert done.model_version == 1
        else:
            assert done.error_code == "worker_lost"
        statuses = [e["status"] for e in await live_world.events(job.id) if e["type"] == "job.status"]
        assert statuses.count("running") == (2 if expected == "succeeded" else 1)
        events = await live_world.events(job.id)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    finally:
        process.stop()
