"""SIGKILL of a worker in the middle of a fit, twenty times: no job left running, none lost.

The deployment is one ``mlw serve --no-worker`` and two ``mlw worker`` processes
(concurrency 1 each) on SQLite and a private Redis. Eleven jobs are queued at once, each
with a planned number of kills (1 to 3, twenty in all). The test delivers them one per
attempt, and only once the job is ``running`` in the database and a ``job.progress`` event
of that attempt's ``fit`` stage has reached the test's websocket: every kill lands mid-fit.
The kills alternate between the two ways a worker dies in production: the prefork child
running the fit (the OOM killer; Celery's main process survives and forks a new child) and
the whole ``mlw worker`` process group (the node dies; the test starts a fresh worker).

With ``jobs.max_attempts = 3`` the reaper's rule decides each job's end: killed on fewer
than three attempts, it is requeued after each kill and finally succeeds; killed on its
third attempt, it fails with ``worker_lost``. The test checks exactly that, job by job,
and that the database agrees with the API: no row left ``queued``/``running``, each kill in
the event trail as one ``worker_lost`` requeue or failure, seqs gap-free, one model version
(versions 1..n, no gaps) with its artifact file per succeeded job and neither for a failed
one, no stray or temporary file. A fresh job on the surviving deployment then succeeds.

Two faults the kills brought out get a deterministic test each, since the scenario above
only meets them by chance:

- Celery hands a killed child's message back at once; when that redelivery recovers the
  stale job between the reaper's read and the reaper's write, a status-only guard let the
  reaper requeue the new, live run (a spurious ``worker_lost``, one attempt burnt, two runs
  of one job). Replayed in process, on SQLite and PostgreSQL.
- Celery's main process runs the reaper thread and forks a replacement child after each
  child kill; forked in the middle of a reaper write, the child inherited SQLite's lock
  bookkeeping and could never write (``database is locked`` at its claim, the job stayed
  queued for good). Replayed with a thread in a write transaction and a fork.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import enum
import hashlib
import json
import os
import signal
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import psutil  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from actors.jobs.fork_gate import FORK_GATE
from actors.jobs.reaper import ReapOutcome, reap_job
from actors.jobs.runner import Outcome
from server.redis_server import EmbeddedRedis
from store.engine import create_engine
from store.job_queries import stale_jobs
from store.jobs import transition
from store.models import TrainingJob
from store.states import JobStatus
from store.types import utcnow
from tests.e2e import conftest as e2e
from tests.e2e.clients import TERMINAL, Api, Frame, LiveSocket
from tests.e2e.conftest import Deployment, DeploymentFactory, SocketFactory, WebProcess
from tests.e2e.processes import ManagedProcess
from tests.job_fixtures import JobWorld, graph_for
from tests.s3_fixtures import Storage, on_both_storages

# The end-to-end package's fixtures, for this sibling package.
http, new_deployment, open_socket, own_redis, training_csv = (
    e2e.http, e2e.new_deployment, e2e.open_socket, e2e.own_redis, e2e.training_csv
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

MAX_ATTEMPTS = 3
KILL_PLAN = (3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1)
"""Kills per job, one per attempt: a job killed on all ``MAX_ATTEMPTS`` attempts fails, the others succeed."""
KILLS = sum(KILL_PLAN)
KILLING_WITHIN_S = 150.0
SETTLING_WITHIN_S = 90.0

CLUSTER_SETTINGS = {
    # 15 heartbeats (0.2 s) per stale period: a healthy fit is never reaped, a killed one within ~3.5 s.
    "MLW_JOBS_STALE_AFTER_S": "3",
    "MLW_JOBS_REAPER_INTERVAL_S": "0.5",
    "MLW_JOBS_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    "MLW_JOBS_MAX_ACTIVE_PER_USER": "50",
    "MLW_WORKER_CONCURRENCY": "1",
}
FIT = graph_for("random_forest", hyperparameters={"n_estimators": 80, "max_depth": 10})
"""About two seconds of fit on ``training_csv``, reporting progress every ~0.1 s of trees."""
QUICK_FIT = graph_for("random_forest", hyperparameters={"n_estimators": 10, "max_depth": 4})


class KillKind(enum.StrEnum):
    """Which processes one kill takes down."""

    CHILD = "child"
    """The prefork child running the fit; Celery's main process forks a new one."""
    GROUP = "group"
    """The whole ``mlw worker`` process group; the test starts a fresh worker."""


@dataclasses.dataclass(frozen=True)
class Kill:
    """One SIGKILL: of which job attempt, the pool child that ran it (``worker`` column) and its ``mlw worker``."""

    job_id: str
    attempt: int
    pid: int
    kind: KillKind
    worker: str
    owner: str
    at: datetime


@dataclasses.dataclass
class Cluster:
    """The running deployment; ``workers`` grows as killed nodes are replaced."""

    deployment: Deployment
    web: WebProcess
    workers: list[ManagedProcess]
    token: str
    database_url: str
    storage: Storage

    def owner_of(self, pid: int) -> ManagedProcess:
        """The running ``mlw worker`` of which ``pid`` is a pool child (not the main process)."""
        for worker in self.workers:
            if worker.running and pid in {p.pid for p in psutil.Process(worker.pid).children(recursive=True)}:
                return worker
        raise AssertionError(f"pid {pid} is no pool child of a running worker")


@pytest.fixture
def cluster(own_redis: EmbeddedRedis, new_deployment: DeploymentFactory, storage: Storage) -> Cluster:
    """``mlw serve --no-worker`` and two ``mlw worker`` processes (concurrency 1) on SQLite and ``own_redis``;
    datasets and models in ``storage`` (the data directory, or an S3 bucket on moto)."""
    database_url = f"sqlite+aiosqlite:///{storage.data_dir / 'mlw.db'}"
    deployment = new_deployment(
        {"MLW_REDIS_URL": own_redis.url, "MLW_DATABASE_URL": database_url, **CLUSTER_SETTINGS, **storage.env()}
    )
    token = deployment.create_user("alice")  # also applies the migrations
    web = deployment.start_web()
    workers = [deployment.start_worker(), deployment.start_worker()]
    web.wait_serving()
    for worker in workers:
        worker.wait_for_line("shim worker ready")
    web.wait_ready()
    return Cluster(deployment, web, workers, token, database_url, storage)


def _fit_under_way(sock: LiveSocket, job_id: str, attempt: int) -> bool:
    """Whether the socket saw ``attempt`` of the job start running and then report an unfinished fit."""
    in_attempt = False
    for frame in sock.events(job_id):
        if frame["type"] == "job.status":
            in_attempt = frame["status"] == "running" and frame.get("attempt") == attempt
        elif in_attempt and frame["type"] == "job.progress":
            progress = frame["progress"]
            if progress["stage"] == "fit" and progress["completed"] < progress["total"]:
                return True
    return False


def _fitting(progress: Any) -> bool:
    """Whether a job row's latest progress is a fit that has not finished (SQLite returns the JSON as text)."""
    value = json.loads(progress) if isinstance(progress, str) else progress
    return bool(value) and value["stage"] == "fit" and value["completed"] < value["total"]


async def _rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(text(sql), params))


def _kill(cluster: Cluster, pid: int, kind: KillKind) -> str:
    """SIGKILL the pool child ``pid`` or its whole worker; returns the name of that worker."""
    worker = cluster.owner_of(pid)
    if kind is KillKind.CHILD:
        os.kill(pid, signal.SIGKILL)
        return worker.name
    os.killpg(worker.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while worker.running:
        assert time.monotonic() < deadline, f"{worker.name} survived SIGKILL"
        time.sleep(0.02)
    # A node died: its replacement boots while the other worker goes on (the test does not wait).
    cluster.workers.append(cluster.deployment.start_worker())
    return worker.name


async def _kill_by_plan(cluster: Cluster, engine: AsyncEngine, sock: LiveSocket, plan: dict[str, int]) -> list[Kill]:
    """Deliver every planned kill, each to a job attempt whose fit is under way; returns them in order."""
    kills: list[Kill] = []
    killed: collections.Counter[str] = collections.Counter()
    dead: set[tuple[str, int]] = set()
    deadline = time.monotonic() + KILLING_WITHIN_S
    while len(kills) < KILLS:
        assert time.monotonic() < deadline, f"only {len(kills)} of {KILLS} kills in {KILLING_WITHIN_S:g} s: {kills}"
        running = await _rows(
            engine, "SELECT id, attempt, worker, progress FROM training_jobs WHERE status = 'running'"
        )
        for row in running:
            job_id, attempt = str(row.id), int(row.attempt)
            if (job_id, attempt) in dead:
                continue  # still ``running`` in the database until the reaper notices
            if killed[job_id] >= plan[job_id]:
                continue
            # Mid-fit by both accounts: the attempt's fit progress was published, and the row says
            # the fit is still going (so the kill cannot land while the artifact is written).
            if not (_fit_under_way(sock, job_id, attempt) and _fitting(row.progress)):
                continue
            # Only the planned kills may have cost the job an attempt: no healthy fit was reaped.
            assert attempt == killed[job_id] + 1, f"job {job_id} on attempt {attempt} after {killed[job_id]} kills"
            kind = KillKind.CHILD if len(kills) % 2 == 0 else KillKind.GROUP
            pid = int(str(row.worker).rsplit(":", 1)[1])
            at = datetime.now(UTC)
            owner = await asyncio.to_thread(_kill, cluster, pid, kind)
            kills.append(Kill(job_id, attempt, pid, kind, str(row.worker), owner, at))
            elapsed = KILLING_WITHIN_S - (deadline - time.monotonic())
            print(f"kill {len(kills):2d} at {elapsed:5.1f} s: {kind} of {job_id} attempt {attempt} ({row.worker})")
            killed[job_id] += 1
            dead.add((job_id, attempt))
        await asyncio.sleep(0.05)
    return kills


def _expected_trail(kills: int) -> list[tuple[str, int | None, str | None]]:
    """(status, attempt, reason or error code) of each ``job.status`` event for a job killed ``kills`` times."""
    trail: list[tuple[str, int | None, str | None]] = [("queued", None, None)]
    for attempt in range(1, kills + 1):
        trail.append(("running", attempt, None))
        if attempt < MAX_ATTEMPTS:
            trail.append(("queued", attempt + 1, "worker_lost"))
        else:
            trail.append(("failed", None, "worker_lost"))
    if kills < MAX_ATTEMPTS:
        trail += [("running", kills + 1, None), ("succeeded", None, None)]
    return trail


def _trail(events: list[Frame]) -> list[tuple[str, int | None, str | None]]:
    status_events = [e for e in events if e["type"] == "job.status"]
    return [
        (
            e["status"],
            e.get("attempt") if e["status"] != "failed" else None,
            e.get("reason") or e.get("error_code"),
        )
        for e in status_events
    ]


def _payload(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str | bytes) else dict(value)


JOB_COLUMNS = ("status", "attempt", "last_seq", "model_version", "model_artifact_uri", "artifact_sha256", "error_code")


async def _check_job(
    api: Api, engine: AsyncEngine, job: Frame, row: Any, kills: list[Kill], versions: list[Any], cluster: Cluster
) -> list[float]:
    """Everything one job must show after its kills; returns the seconds from each kill to its event."""
    job_id, planned = job["id"], len(kills)
    assert [k.attempt for k in kills] == list(range(1, planned + 1)), f"kills of {job_id}: {kills}"
    assert {c: job[c] for c in JOB_COLUMNS} == {c: getattr(row, c) for c in JOB_COLUMNS}, "API and database agree"

    events = await api.events(job_id)
    seqs = await _rows(engine, "SELECT seq FROM training_job_events WHERE job_id = :id ORDER BY seq", id=job_id)
    assert [int(r.seq) for r in seqs] == list(range(1, row.last_seq + 1)), f"gap in the seqs of {job_id}"
    assert [e["seq"] for e in events] == list(range(1, row.last_seq + 1))
    assert _trail(events) == _expected_trail(planned), f"trail of {job_id}: {events}"
    statuses = [e for e in events if e["type"] == "job.status"]
    # Worker identity is served to admins only; the stored trail keeps it for the check.
    stored = await _rows(engine, "SELECT seq, payload FROM training_job_events WHERE job_id = :id", id=job_id)
    workers = {int(r.seq): _payload(r.payload).get("worker") for r in stored}
    delays = []
    for kill in kills:
        index = next(i for i, e in enumerate(statuses) if e["status"] == "running" and e["attempt"] == kill.attempt)
        assert "worker" not in statuses[index], "a user's own event trail does not name the worker"
        assert workers[statuses[index]["seq"]] == kill.worker, "the killed process was the one running that attempt"
        lost = statuses[index + 1]  # the requeue or the failure, by the trail just checked
        delays.append((datetime.fromisoformat(lost["at"]) - kill.at).total_seconds())

    mine = [(v.version, v.artifact_uri) for v in versions if v.job_id == job_id]
    version_events = [e for e in events if e["type"] == "job.version"]
    if planned >= MAX_ATTEMPTS:
        assert (job["status"], job["error_code"], job["attempt"]) == ("failed", "worker_lost", MAX_ATTEMPTS), job
        assert (job["model_version"], job["model_artifact_uri"], mine, version_events) == (None, None, [], [])
    else:
        assert (job["status"], job["attempt"]) == ("succeeded", planned + 1), job
        assert mine == [(job["model_version"], job["model_artifact_uri"])], "exactly one version"
        assert len(version_events) == 1
        artifact = cluster.storage.read_model(job["model_artifact_uri"])
        assert hashlib.sha256(artifact).hexdigest() == job["artifact_sha256"]
    return delays


@on_both_storages(object_storage_timeout_s=480)
async def test_every_job_reaches_its_due_end_when_workers_are_killed_mid_fit_twenty_times(
    cluster: Cluster, http: aiohttp.ClientSession, open_socket: SocketFactory, training_csv: Path
) -> None:
    api = Api(http, cluster.web.url, cluster.token)
    dataset = await api.upload_dataset(training_csv)
    pipeline_id = await api.save_pipeline(dataset, FIT)
    sock = await open_socket(cluster.web.url, cluster.token)
    await sock.subscribe([{"user": "me"}])
    jobs = [str((await api.submit(dataset, FIT))["id"]) for _ in KILL_PLAN]
    plan = dict(zip(jobs, KILL_PLAN, strict=True))

    engine = create_engine(cluster.database_url)
    try:
        kills = await _kill_by_plan(cluster, engine, sock, plan)
        ended = {job_id: await api.wait_job(job_id, TERMINAL, within_s=SETTLING_WITHIN_S) for job_id in jobs}

        assert [k.kind for k in kills].count(KillKind.GROUP) == KILLS // 2
        # Celery's main process outlived each killed child: the only workers gone are the killed groups.
        gone = {w.name for w in cluster.workers if not w.running}
        assert gone == {k.owner for k in kills if k.kind is KillKind.GROUP}

        columns = ", ".join(JOB_COLUMNS)
        rows = {str(r.id): r for r in await _rows(engine, f"SELECT id, {columns} FROM training_jobs")}
        assert set(rows) == set(jobs), "no job disappeared and none appeared"
        assert {j: r.status for j, r in rows.items() if r.status not in TERMINAL} == {}, "none left queued or running"
        versions = await _rows(engine, "SELECT job_id, pipeline_id, node_id, version, artifact_uri FROM model_versions")
        delays: list[float] = []
        for job_id in jobs:
            mine = [k for k in kills if k.job_id == job_id]
            delays += await _check_job(api, engine, ended[job_id], rows[job_id], mine, versions, cluster)
        # For the record (no timing assertion): how long each kill took to show in the trail.
        print(f"kill to worker_lost event: max {max(delays):.1f} s, mean {sum(delays) / len(delays):.1f} s")
    finally:
        await engine.dispose()

    succeeded = [j for j in jobs if ended[j]["status"] == "succeeded"]
    assert len(succeeded) == sum(1 for n in KILL_PLAN if n < MAX_ATTEMPTS)
    assert sorted(v.version for v in versions) == list(range(1, len(succeeded) + 1)), "versions without gaps"
    assert {(v.pipeline_id, v.node_id) for v in versions} == {(pipeline_id, "train")}
    listed = sorted((v["version"], v["job_id"]) for v in await api.versions(pipeline_id))
    assert listed == sorted((v.version, v.job_id) for v in versions), "the API lists the same versions"
    # Each succeeded job left its artifact, and no killed attempt left a partial or temporary file.
    stored = cluster.storage.model_files()
    assert stored == {ended[j]["model_artifact_uri"].rpartition("uploads/models/")[2] for j in succeeded}
    assert cluster.storage.temporary() == [], "no temporary object stays"

    # After twenty kills the deployment still works: the workers left (replacements included) take a new job.
    for worker in cluster.workers:
        if worker.running:
            await asyncio.to_thread(worker.wait_for_line, "shim worker ready")
    fresh = await api.submit(dataset, QUICK_FIT)
    done = await api.wait_job(fresh["id"], TERMINAL, within_s=60)
    assert (done["status"], done["attempt"], done["model_version"]) == ("succeeded", 1, len(succeeded) + 1), done


async def test_a_reaper_that_found_a_killed_run_stale_leaves_the_next_run_of_that_job_alone(
    job_world: JobWorld,
) -> None:
    # The race the kills above provoke, made deterministic: a pool child dies mid-fit, Celery
    # hands its message back, and that redelivery recovers the stale job (requeue + claim)
    # between the reaper reading the job as stale and the reaper acting on what it read.
    job_world.with_settings(one_active_per_node=False)
    job = await job_world.submit(graph_for("random_forest", hyperparameters={"n_estimators": 40}), dataset="slow")
    async with job_world.sessions.begin() as session:
        await transition(session, job.id, JobStatus.RUNNING, expected=JobStatus.QUEUED, changes={"worker": "dead:1"})
        await session.execute(
            update(TrainingJob).where(TrainingJob.id == job.id).values(heartbeat_at=utcnow() - timedelta(hours=1))
        )
    async with job_world.sessions() as session:
        (seen_stale,) = await stale_jobs(session, heartbeat_before=utcnow())

    job_world.sender.sent.clear()
    redelivered = asyncio.create_task(job_world.run(job.id))
    deadline = time.monotonic() + 60
    while (current := await job_world.job(job.id)).status != "running" or current.attempt != 2:
        assert not redelivered.done(), f"the redelivery ended as {redelivered.result()} before running attempt 2"
        assert time.monotonic() < deadline, f"attempt 2 never started: {current.status} {current.attempt}"
        await asyncio.sleep(0.01)

    assert await reap_job(job_world.ctx, seen_stale) is ReapOutcome.LEFT, "the live second run is no lost worker"
    assert job_world.sender.sent == [], "and it is not sent again"
    assert await redelivered is Outcome.SUCCEEDED
    done = await job_world.job(job.id)
    assert (done.status, done.attempt, done.model_version) == ("succeeded", 2, 1)
    trail = [(e["status"], e.get("attempt"), e.get("reason")) for e in await job_world.events(job.id)
             if e["type"] == "job.status"]
    assert trail == [
        ("queued", None, None), ("running", None, None), ("queued", 2, "worker_lost"), ("running", 2, None),
        ("succeeded", None, None),
    ], "one requeue, and the claim reports the attempt it runs"


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_a_pool_child_forked_while_the_reaper_writes_can_still_write(tmp_path: Path) -> None:
    # The kills once left a replacement pool child unable to write at all ("database is locked"
    # for 30 s at each claim, the job never started): Celery's main process forked it while its
    # reaper thread was inside a write transaction, and SQLite's in-memory lock bookkeeping came
    # along. Here a thread plays the reaper pass, under the same gate, while this process forks.
    path = tmp_path / "fork.db"
    with contextlib.closing(sqlite3.connect(path)) as setup:
        setup.execute("PRAGMA journal_mode = WAL")
        setup.execute("CREATE TABLE t (x INTEGER)")
        setup.commit()
    writing = threading.Event()

    def reaper_pass() -> None:
        FORK_GATE.enter()
        try:
            with contextlib.closing(sqlite3.connect(path, isolation_level=None, timeout=5)) as conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO t VALUES (1)")
                writing.set()
                time.sleep(0.3)  # the fork below is asked for now, in the middle of the transaction
                conn.execute("COMMIT")
        finally:
            FORK_GATE.leave()

    reaper = threading.Thread(target=reaper_pass, name="reaper-pass")
    reaper.start()
    assert writing.wait(10)
    pid = os.fork()
    if pid == 0:  # the new pool child: one write, then leave without running any of pytest's code
        code = 1
        try:
            with contextlib.closing(sqlite3.connect(path, isolation_level=None, timeout=2)) as conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO t VALUES (2)")
                conn.execute("COMMIT")
            code = 0
        finally:
            os._exit(code)
    reaper.join(10)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the forked child could not write: it inherited a phantom lock"
    with contextlib.closing(sqlite3.connect(path)) as check:
        assert check.execute("SELECT x FROM t ORDER BY x").fetchall() == [(1,), (2,)]
