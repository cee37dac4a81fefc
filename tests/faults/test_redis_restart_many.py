"""Redis crashes and restarts while 20 jobs are in flight: every job ends once, and everyone agrees how.

The deployment is ``mlw serve --no-worker`` and two ``mlw worker`` processes (one training
process each) on SQLite and a private append-only :class:`EmbeddedRedis`. Two users submit
20 jobs on three pipelines, multi-second random forests first and among quick ones, and
watch them over websockets on per-job, per-pipeline and user topics. Once both workers fit,
Redis is killed with SIGKILL (a crash, not a clean ``SHUTDOWN``: nothing gets flushed on the
way out) and started again on the same port and append-only file a few seconds later.

What the crash exercises, and how the test shows each part held:

- Queued messages survive. Redis hands each write to the kernel (``write(2)`` of its
  append-only file) before it replies, so killing the process loses none a client saw
  acknowledged (barring the up to 2 s Redis may postpone that write while a previous fsync
  lags on a slow disk); the fsync policy (``everysec``) only bounds what a crash of the whole
  machine could lose, which a test on one machine cannot stage. Nothing re-sends a job that
  is still ``queued`` (the reaper handles only running jobs), so a lost message would leave
  its job queued for good: every job queued at the crash succeeding shows the messages came back.
- Acks during the outage. A fit that ends while Redis is down cannot acknowledge its message;
  the shim's transport frees the prefetch slot and settles the ack once Redis answers, so the
  worker goes on taking jobs and in the end no message is left queued or unacknowledged.
- The workers reconnect: jobs queued at the crash are run by both ``mlw worker`` processes.
- The reaper stands by: should the process running a fit be lost in the outage, its job
  would go stale, be requeued by the reaper (attempt + 1) and succeed on the retry; one
  outage costs at most one of ``jobs.max_attempts`` (3) attempts, so no job may fail. The test
  accounts for every fit running at the crash: it ended in the outage, or it was retried.
  (With one training process per worker the consumer polls nothing while it fits and notices
  the outage only when that fit's ack fails, so the fits normally end in the outage.)
- No job runs twice to completion: exactly one model version per job, versions 1..n per node.
- The hub resubscribes and refills from the database: for every job the database row
  (status, last_seq, model_version), ``GET /training-jobs/{id}`` and every websocket watching
  it agree, each client's persisted trail is the job's stored trail (gap-free, in order, once).

Finally a fresh job succeeds with its events delivered live.

The test runs once with the data directory as the store and once with an S3 bucket (moto):
the jobs that waited through the crash read their dataset from the bucket, the fits that
ended in the outage committed their models to it, and every version's model is served as
recorded, with no temporary object left. The bucket's run takes 8 jobs instead of 20: the
crash, the outage and the queue behind them are the same, and Redis sees none of the storage.
"""

# The e2e fixtures are imported into this module so pytest finds them; tests name them as parameters.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
from collections import Counter
from pathlib import Path
from typing import cast

import aiohttp
import psutil  # type: ignore[import-untyped]
import pytest
import redis
from sqlalchemy import text

from server.redis_server import EmbeddedRedis
from shim.common import xq_name
from store.engine import create_engine
from tests.e2e.clients import TERMINAL, Api, Frame, LiveSocket
from tests.e2e.conftest import (  # noqa: F401 - fixtures used by name
    Node,
    NodeFactory,
    SocketFactory,
    http,
    new_deployment,
    new_node,
    open_socket,
    own_redis,
    training_csv,
)
from tests.e2e.processes import worker_processes
from tests.job_fixtures import graph_for
from tests.s3_fixtures import MODELS, on_both_storages

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

JOBS = 20
JOBS_ON_OBJECT_STORAGE = 8
LONG = {"n_estimators": 150, "max_depth": 10}
"""About 2.5 s of fit on an idle machine: still running when Redis dies."""
QUICK = {"n_estimators": 10, "max_depth": 4}
OTHER_SPLIT = {"test_size": 0.3, "random_state": 7}
"""A different upstream graph, hence a second pipeline (node) of the same user."""
MIN_OUTAGE_S = 3.0
MAX_OUTAGE_S = 60.0
"""Redis stays down at least this long, and until the fits running at the crash are over (bounded)."""
TRAINING_QUEUE = "training"
"""The Redis list of the training actor's messages (``actors.jobs.training_actor``, not imported: it needs a broker)."""
DEAD_LETTERS = f"dramatiq:{xq_name(TRAINING_QUEUE)}"
"""The shim's dead-letter list of the training queue: messages whose actor failed for good."""


@dataclasses.dataclass(frozen=True)
class Planned:
    """One job to submit: whose, on which pipeline, how long a fit."""

    owner: str
    pipeline: str
    hyperparameters: dict[str, int]


@dataclasses.dataclass(frozen=True)
class Submitted:
    """A submitted job, its owner's API and the per-job socket that watches it."""

    id: str
    owner: str
    pipeline_id: str
    api: Api
    socket: LiveSocket
    joined_at_seq: int
    """The job's last seq in the per-job socket's snapshot: its live events start after it."""


@dataclasses.dataclass(frozen=True)
class Truth:
    """A job as the database has it."""

    status: str
    last_seq: int
    model_version: int | None
    attempt: int
    error_code: str | None
    worker: str | None
    pipeline_id: str
    node_id: str
    seqs: list[int]


def _plan(jobs: int) -> list[Planned]:
    """``jobs`` jobs: a long fit for each worker first, then quick fits with a long one now and then."""
    plan = [Planned("alice", "a1", LONG), Planned("bob", "b", LONG)]
    cycle = [("alice", "a1"), ("bob", "b"), ("alice", "a2")]
    for index in range(jobs - len(plan)):
        owner, pipeline = cycle[index % len(cycle)]
        plan.append(Planned(owner, pipeline, LONG if index % 5 == 4 else QUICK))
    return plan


@pytest.fixture
def cluster(new_node: NodeFactory) -> Node:
    """``mlw serve --no-worker`` and two ``mlw worker`` (one training process each) on ``own_redis``."""
    return new_node(workers=2, users=("alice", "bob"), MLW_WORKER_CONCURRENCY="1")


def _persistence(server: EmbeddedRedis) -> dict[str, str]:
    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        return {key: str(cast(dict[str, str], client.config_get(key))[key]) for key in ("appendonly", "appendfsync")}
    finally:
        client.close()


def _broker_leftovers(server: EmbeddedRedis) -> dict[str, int]:
    """Messages still queued on ``training``, delivered and unacknowledged, or dead-lettered by the shim."""
    client = redis.Redis.from_url(server.url)
    try:
        return {
            "queued": cast(int, client.llen(TRAINING_QUEUE)),
            "unacked": cast(int, client.hlen("unacked")),
            "unacked_index": cast(int, client.zcard("unacked_index")),
            "dead_lettered": cast(int, client.llen(DEAD_LETTERS)),
        }
    finally:
        client.close()


async def _database_truth(database_url: str) -> tuple[dict[str, Truth], list[tuple[str, str, int, str]]]:
    """Every job and every model version (pipeline, node, version, job), read from the database."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            seqs: dict[str, list[int]] = {}
            for job_id, seq in await conn.execute(
                text("SELECT job_id, seq FROM training_job_events ORDER BY job_id, seq")
            ):
                seqs.setdefault(str(job_id), []).append(int(seq))
            jobs = {
                str(row.id): Truth(
                    str(row.status), int(row.last_seq), row.model_version, int(row.attempt), row.error_code,
                    row.worker, str(row.pipeline_id), str(row.node_id), seqs.get(str(row.id), []),
                )
                for row in await conn.execute(
                    text(
                        "SELECT id, status, last_seq, model_version, attempt, error_code, worker, pipeline_id, node_id"
                        " FROM training_jobs"
                    )
                )
            }
            versions = [
                (str(r.pipeline_id), str(r.node_id), int(r.version), str(r.job_id))
                for r in await conn.execute(
                    text("SELECT pipeline_id, node_id, version, job_id FROM model_versions ORDER BY version")
                )
            ]
            return jobs, versions
    finally:
        await engine.dispose()


def _pid(worker: str | None) -> int:
    """The process id in a job's ``worker`` column (``host:pid`` of the pool process)."""
    assert worker is not None, "a running job names its worker"
    return int(worker.rsplit(":", 1)[-1])


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie awaiting its parent does not)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


async def _statuses(database_url: str) -> dict[str, str]:
    jobs, _ = await _database_truth(database_url)
    return {job_id: truth.status for job_id, truth in jobs.items()}


def _status_trail(events: list[Frame]) -> list[str]:
    return [e["status"] for e in events if e["type"] == "job.status"]


@on_both_storages()
async def test_every_job_ends_once_and_database_api_and_clients_agree_when_redis_crashes_under_20_jobs(
    cluster: Node,
    own_redis: EmbeddedRedis,
    http: aiohttp.ClientSession,
    open_socket: SocketFactory,
    training_csv: Path,
) -> None:
    persistence = _persistence(own_redis)
    assert persistence["appendonly"] == "yes", "queued messages must outlive the crash"
    assert persistence["appendfsync"] in ("everysec", "always"), persistence
    tokens = cluster.tokens
    apis = {owner: Api(http, cluster.web.url, token) for owner, token in tokens.items()}
    datasets = {owner: await api.upload_dataset(training_csv) for owner, api in apis.items()}
    graphs = {"a1": ("alice", None), "a2": ("alice", OTHER_SPLIT), "b": ("bob", None)}
    pipelines = {
        key: await apis[owner].save_pipeline(datasets[owner], graph_for("random_forest", split=split))
        for key, (owner, split) in graphs.items()
    }
    assert len(set(pipelines.values())) == 3, pipelines

    # Topic watchers join before the first job, so they must end with every event of every job.
    by_user = {owner: await open_socket(cluster.web.url, token) for owner, token in tokens.items()}
    for sock in by_user.values():
        await sock.subscribe([{"user": "me"}])
    by_pipeline: dict[str, LiveSocket] = {}
    for key, (owner, _split) in graphs.items():
        by_pipeline[key] = await open_socket(cluster.web.url, tokens[owner])
        await by_pipeline[key].subscribe([{"pipeline_id": pipelines[key]}])

    job_count = JOBS if cluster.storage.bucket is None else JOBS_ON_OBJECT_STORAGE
    jobs: list[Submitted] = []
    for planned in _plan(job_count):
        split = graphs[planned.pipeline][1]
        graph = graph_for("random_forest", split=split, hyperparameters=planned.hyperparameters)
        job_id = (await apis[planned.owner].submit(datasets[planned.owner], graph))["id"]
        watcher = await open_socket(cluster.web.url, tokens[planned.owner])
        snapshot = await watcher.subscribe([{"job_id": job_id}])
        joined = [int(j["last_seq"]) for j in snapshot["jobs"] if j["id"] == job_id]
        assert len(joined) == 1, snapshot
        jobs.append(Submitted(job_id, planned.owner, pipelines[planned.pipeline], apis[planned.owner], watcher,
                              joined[0]))
    by_id = {job.id: job for job in jobs}
    api = apis["alice"]

    # Crash once both workers fit (the two long jobs went first), with the rest still queued.
    deadline = time.monotonic() + 60
    while Counter((await _statuses(cluster.database_url)).values())["running"] < 2:
        assert time.monotonic() < deadline, "the two workers did not both start a job"
        await asyncio.sleep(0.1)
    await asyncio.to_thread(own_redis.kill)
    crashed_at = time.monotonic()
    at_crash, _ = await _database_truth(cluster.database_url)
    running_at_crash = {j: _pid(t.worker) for j, t in at_crash.items() if t.status == "running"}
    queued_at_crash = {j for j, t in at_crash.items() if t.status == "queued"}
    assert len(running_at_crash) >= 1 and len(queued_at_crash) >= job_count // 2, at_crash

    body = await api.wait_ready(ready=False)
    assert not body["checks"]["redis"]["ok"] and not body["checks"]["hub"]["ok"], body
    # Redis stays away until every fit running at the crash is over: ended (so its ack fails) or
    # lost with its pool process (the reaper retries it once Redis is back). The API keeps
    # answering from the database meanwhile.
    while True:
        outage = time.monotonic() - crashed_at
        ended = {j for j in running_at_crash if (await by_id[j].api.job(j))["status"] in TERMINAL}
        lost = {j for j, pid in running_at_crash.items() if j not in ended and not _alive(pid)}
        if outage >= MIN_OUTAGE_S and ended | lost == set(running_at_crash):
            break
        assert outage < MAX_OUTAGE_S, f"fits running at the crash neither ended nor stopped: {running_at_crash}"
        await asyncio.sleep(0.1)
    # What ended in the outage was published to nobody: clients can only learn it from the refill.
    all_sockets = [*by_user.values(), *by_pipeline.values(), *(j.socket for j in jobs)]
    seen_live_end = [(j, sock.view_of(j)) for j in ended for sock in all_sockets if sock.view_of(j)[0] in TERMINAL]
    assert seen_live_end == [], seen_live_end
    await asyncio.to_thread(own_redis.start)
    restarted_at = time.monotonic()
    await api.wait_ready(ready=True)

    finals: dict[str, Frame] = {}
    for job in jobs:
        finals[job.id] = await job.api.wait_job(job.id, TERMINAL, within_s=150)
    print(f"outage {restarted_at - crashed_at:.1f}s; fits ended in it: {len(ended)}, lost: {len(lost)}; "
          f"all done {time.monotonic() - restarted_at:.1f}s after the restart; "
          f"attempts {Counter(f['attempt'] for f in finals.values())}")

    truths, versions = await _database_truth(cluster.database_url)
    assert set(truths) == set(by_id)
    for job in jobs:
        truth, final = truths[job.id], finals[job.id]
        assert (truth.status, truth.error_code) == ("succeeded", None), (job.id, truth)
        assert (final["status"], final["last_seq"], final["model_version"], final["attempt"]) == (
            truth.status, truth.last_seq, truth.model_version, truth.attempt,
        ), (final, truth)
        assert truth.seqs == list(range(1, truth.last_seq + 1)), (job.id, truth.seqs)
        stored = await job.api.events(job.id)
        assert [e["seq"] for e in stored] == truth.seqs
        trail = _status_trail(stored)
        # A lost fit shows as running -> queued (reaped, attempt + 1) before the run that succeeded.
        retries = truth.attempt - 1
        assert trail == ["queued"] + ["running", "queued"] * retries + ["running", "succeeded"], (job.id, trail)
        version_events = [e for e in stored if e["type"] == "job.version"]
        assert [e["version"]["model_version"] for e in version_events] == [truth.model_version], stored

    # A fit that ended in the outage was not run again; a lost one was retried, by the reaper's rule.
    assert [truths[j].attempt for j in ended] == [1] * len(ended)
    assert all(truths[j].attempt >= 2 for j in lost), {j: truths[j].attempt for j in lost}

    # Exactly one version per job, 1..n on each node, n its number of jobs.
    assert Counter(job_id for *_node, job_id in versions) == Counter(list(by_id)), versions
    per_node: dict[tuple[str, str], list[int]] = {}
    for pipeline_id, node_id, version, job_id in versions:
        assert truths[job_id].model_version == version and truths[job_id].pipeline_id == pipeline_id
        per_node.setdefault((pipeline_id, node_id), []).append(version)
    for node, numbers in per_node.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), (node, numbers)
    for key, pipeline_id in pipelines.items():
        owner = graphs[key][0]
        listed = await apis[owner].versions(pipeline_id)
        assert sorted((v["version"], v["job_id"]) for v in listed) == sorted(
            (version, job_id) for p, _n, version, job_id in versions if p == pipeline_id
        )

    # Storage: each version's model is served as recorded; a model beyond them can only be a lost fit's.
    served = set()
    for job in jobs:
        body, sha256 = await job.api.artifact(job.id)
        uri = finals[job.id]["model_artifact_uri"]
        assert hashlib.sha256(body).hexdigest() == sha256 and body == cluster.storage.read_model(uri), job.id
        served.add(uri.rpartition(MODELS)[2])
    orphans = cluster.storage.model_files() - served
    assert all(any(job_id in name for job_id in lost) for name in orphans), orphans
    assert cluster.storage.temporary() == []

    # Both workers reconnected: the jobs that waited in Redis through the crash ran on both.
    owners = worker_processes(cluster.workers)
    ran_after = {owners.get(_pid(truths[j].worker)) for j in queued_at_crash}
    assert ran_after == {0, 1}, ran_after

    # Every client watching a job converges to the truth and holds its whole trail once, in order.
    topic_sockets: list[tuple[LiveSocket, set[str]]] = [
        (by_user[owner], {j.id for j in jobs if j.owner == owner}) for owner in by_user
    ] + [(by_pipeline[key], {j.id for j in jobs if j.pipeline_id == pipelines[key]}) for key in by_pipeline]
    for sock, watched in topic_sockets:
        assert sock.job_ids() == watched, "a client hears of exactly the jobs on its topics"
        for job_id in watched:
            truth = truths[job_id]
            await sock.wait_converged(job_id, (truth.status, truth.last_seq))
        await sock.sync("converged")
        for job_id in watched:
            assert sock.persisted(job_id) == await by_id[job_id].api.events(job_id), "every event once, in order"
        assert sock.close_code is None
    for job in jobs:
        truth = truths[job.id]
        await job.socket.wait_converged(job.id, (truth.status, truth.last_seq))
        await job.socket.sync("converged")
        stored = await job.api.events(job.id)
        assert job.socket.persisted(job.id) == stored[job.joined_at_seq :], job.id
        assert job.socket.job_ids() == {job.id}

    # Every message was settled: the acks that failed in the outage were done once Redis was back.
    deadline = time.monotonic() + 30
    while (left := await asyncio.to_thread(_broker_leftovers, own_redis)) != dict.fromkeys(left, 0):
        assert time.monotonic() < deadline, f"messages left in Redis: {left}"
        await asyncio.sleep(0.25)

    # Live delivery is back: a fresh job's events reach the watchers as they happen.
    fresh_id = (await api.submit(datasets["alice"], graph_for("random_forest", hyperparameters=QUICK)))["id"]
    for sock in (by_user["alice"], by_pipeline["a1"]):
        queued = await sock.wait_for(lambda f: f["type"] == "job.status" and f["job_id"] == fresh_id)
        assert (queued["seq"], queued["status"]) == (1, "queued")
    done = await by_pipeline["a1"].wait_status(fresh_id, within_s=60)
    assert done["status"] == "succeeded", done
    fresh = await api.wait_job(fresh_id, TERMINAL, within_s=30)
    assert fresh["model_version"] == len(per_node[(pipelines["a1"], "train")]) + 1
