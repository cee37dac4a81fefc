"""SIGKILL of the web process while 50 websocket clients are connected and jobs run (issue 9).

The deployment is one ``mlw serve --no-worker`` and two separate ``mlw worker`` processes on
a private Redis and a SQLite database. Two users run six random-forest fits; fifty clients
follow them over websockets, mixing the three topic kinds (one job, one pipeline, the
user's own jobs) across both users. With two jobs mid-fit, the web process group is
SIGKILLed: no close frame, no shutdown hook, nothing flushed.

The test proves that:

- the workers do not notice: while no web process exists, the running fits finish, a
  queued job starts and heartbeats move on, all recorded in the database;
- every client sees its socket drop, finds nothing listening, and reconnects once a new
  web process serves on the same port, re-subscribing with ``since`` = the last seq it
  holds per job, exactly as ``server/static/js/live.js`` does;
- every client then converges to the database's truth (status, last_seq) of every job it
  watches, and the events it received over both connections are the stored trail: each
  event exactly once, in order, no gap (the outage's events come from the replay);
- jobs submitted after the restart are delivered live, and no job is lost or run twice:
  one succeeded job, one attempt and one model version per submission, versions gap-free;
- nothing is left running: the killed group is empty at once, and every other process
  stops cleanly at the end;
- storage takes no harm: the models the workers stored during the outage are served by the
  new web process as recorded (sha256), one per job and no temporary object, both with the
  data directory and with an S3 bucket (moto) as the store (``[local_storage]``, ``[object_storage]``).
"""

# The e2e fixtures are imported into this module so pytest finds them; tests name them as parameters.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import psutil  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from store.engine import create_engine
from tests.e2e.clients import TERMINAL, Api, Frame, LiveSocket
from tests.e2e.conftest import (  # noqa: F401 - fixtures of the end-to-end package, used here
    Node,
    NodeFactory,
    new_deployment,
    new_node,
    own_redis,
    training_csv,
)
from tests.e2e.processes import API, http_status
from tests.job_fixtures import graph_for
from tests.s3_fixtures import MODELS, on_both_storages

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

USERS = ("alice", "bob")
JOBS_PER_USER = 3
CLIENTS_PER_USER = {"user": 8, "pipeline_id": 8, "job_id": 9}
"""Per user, how many clients follow each kind of topic: 25 a user, 50 in all."""
OUTAGE_LIMIT_S = 60.0
RECONNECT_FIRST_S = 0.1
RECONNECT_MAX_S = 1.0
"""The browser backs off from 0.5 s to 10 s; shorter here keeps the test quick, the behaviour is the same."""


def fit(index: int) -> dict[str, Any]:
    """A forest that takes a few seconds; ``index`` varies ``max_depth``, which keeps the pipeline id."""
    return graph_for("random_forest", hyperparameters={"n_estimators": 60, "max_depth": 8 + index})


QUICK_FIT = graph_for("random_forest", hyperparameters={"n_estimators": 10, "max_depth": 4})


# --- the deployment ----------------------------------------------------------------------


@pytest.fixture
def node(new_node: NodeFactory) -> Node:
    """``mlw serve --no-worker`` on a fixed port and two ``mlw worker``s, two users."""
    return new_node(workers=2, users=USERS)


@pytest.fixture
async def database(node: Node) -> AsyncIterator[AsyncEngine]:
    """The test's own read connection to the database: the truth the clients are compared with."""
    engine = create_engine(node.database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@dataclasses.dataclass(frozen=True)
class JobRow:
    status: str
    last_seq: int
    heartbeat_at: dt.datetime | None
    model_version: int | None
    attempt: int


async def jobs_in_database(engine: AsyncEngine) -> dict[str, JobRow]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT id, status, last_seq, heartbeat_at, model_version, attempt FROM training_jobs")
            )
        ).all()
    return {
        str(r.id): JobRow(str(r.status), int(r.last_seq), r.heartbeat_at, r.model_version, int(r.attempt))
        for r in rows
    }


def group_members(pgid: int) -> list[str]:
    """Live processes of process group ``pgid``."""
    members = []
    for proc in psutil.process_iter(["pid", "status", "cmdline"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(f"{proc.pid}: {' '.join(proc.info['cmdline'] or [])}")
    return members


# --- the clients ---------------------------------------------------------------------------


class ReconnectingClient:
    """A websocket client that behaves like the browser's ``LiveClient`` (``server/static/js/live.js``).

    It keeps its topics; when its socket drops it retries with a doubling backoff until a web
    process answers, then subscribes again with ``since`` = the highest seq it holds per job
    (from snapshot rows and events alike). Every connection is kept, so the test can inspect
    all frames ever received.
    """

    def __init__(
        self, name: str, http: aiohttp.ClientSession, url: str, token: str, owner: str, topics: list[dict[str, str]]
    ) -> None:
        self.name = name
        self.http = http
        self.url = url
        self.token = token
        self.owner = owner
        self.topics = topics
        self.connections: list[LiveSocket] = []
        self.lost: list[tuple[float, int | None]] = []
        """When (monotonic) each connection ended, and its close code."""
        self.refused = 0
        """Reconnect attempts nothing answered."""
        self._follower: asyncio.Task[None] | None = None

    @property
    def live(self) -> LiveSocket:
        return self.connections[-1]

    async def start(self, since: dict[str, int] | None = None) -> None:
        """Connect and subscribe (``since`` for a first subscription), then follow the socket in the background."""
        sock = await LiveSocket.open(self.http, self.url, self.token)
        self.connections.append(sock)
        await sock.subscribe(self.topics, since=since, ref=f"{self.name}-0")
        self._follower = asyncio.create_task(self._follow(), name=f"follow-{self.name}")

    def held_seqs(self) -> dict[str, int]:
        """The last seq held per job, counted as ``LiveClient.noteSeq`` does."""
        held: dict[str, int] = {}
        for sock in self.connections:
            for frame in sock.frames:
                if frame["type"] == "snapshot":
                    pairs = [(str(job["id"]), int(job["last_seq"])) for job in frame["jobs"]]
                elif frame["type"].startswith("job.") and "seq" in frame:
                    pairs = [(str(frame["job_id"]), int(frame["seq"]))]
                else:
                    continue
                for job_id, seq in pairs:
                    held[job_id] = max(held.get(job_id, 0), seq)
        return held

    async def _follow(self) -> None:
        while True:
            code = await self.live.wait_closed()
            self.lost.append((time.monotonic(), code))
            delay = RECONNECT_FIRST_S
            while True:
                await asyncio.sleep(delay)
                try:
                    sock = await LiveSocket.open(self.http, self.url, self.token)
                    break
                except (aiohttp.ClientError, OSError):
                    self.refused += 1
                    delay = min(2 * delay, RECONNECT_MAX_S)
            self.connections.append(sock)
            await sock.subscribe(self.topics, since=self.held_seqs(), ref=f"{self.name}-{len(self.connections) - 1}")

    def check(self) -> None:
        """Raise what the background follower raised, if it failed."""
        if self._follower is not None and self._follower.done():
            self._follower.result()

    async def wait_connections(self, count: int, within_s: float) -> None:
        """Wait until the ``count``-th connection is open and its subscription answered."""
        deadline = time.monotonic() + within_s
        while not (len(self.connections) >= count and self._resubscribed(count)):
            self.check()
            assert time.monotonic() < deadline, f"{self.name}: {len(self.connections)} connections after {within_s} s"
            await asyncio.sleep(0.05)

    def _resubscribed(self, count: int) -> bool:
        ref = f"{self.name}-{count - 1}"
        return any(f["type"] == "snapshot" and f.get("ref") == ref for f in self.connections[count - 1].frames)

    def persisted(self, job_id: str) -> list[Frame]:
        """Persisted events of ``job_id`` over all connections, in the order received."""
        return [event for sock in self.connections for event in sock.persisted(job_id)]

    def frames(self) -> list[Frame]:
        return [frame for sock in self.connections for frame in sock.frames]

    async def close(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
        for sock in self.connections:
            await sock.close()


@contextlib.asynccontextmanager
async def client_session() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP session without a cap on connections: fifty websockets and the REST calls share it."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        yield session


def persisted_event_of(job_id: str) -> Callable[[Frame], bool]:
    return lambda frame: frame.get("job_id") == job_id and "seq" in frame


async def converged(client: ReconnectingClient, job_id: str, truth: tuple[str, int], within_s: float = 30.0) -> None:
    deadline = time.monotonic() + within_s
    while client.live.view_of(job_id) != truth:
        client.check()
        assert time.monotonic() < deadline, f"{client.name} stuck at {client.live.view_of(job_id)}, truth {truth}"
        await asyncio.sleep(0.05)


async def wait_database(
    engine: AsyncEngine,
    done: Callable[[dict[str, JobRow]], bool],
    what: str,
    within_s: float,
    clients: list[ReconnectingClient] | None = None,
) -> dict[str, JobRow]:
    """Poll the database until ``done(rows)`` holds; returns those rows."""
    deadline = time.monotonic() + within_s
    while True:
        rows = await jobs_in_database(engine)
        if done(rows):
            return rows
        for client in clients or []:
            client.check()
        assert time.monotonic() < deadline, f"not reached within {within_s:g} s: {what}; jobs {rows}"
        await asyncio.sleep(0.1)


# --- the test --------------------------------------------------------------------------------


@on_both_storages()
async def test_jobs_continue_through_a_web_process_sigkill_and_fifty_reconnecting_clients_converge_to_the_database(
    node: Node, database: AsyncEngine, training_csv: Path
) -> None:
    started = time.monotonic()
    async with client_session() as http:
        apis = {user: Api(http, node.web.url, node.tokens[user]) for user in USERS}
        datasets = {user: await apis[user].upload_dataset(training_csv) for user in USERS}
        pipelines = {user: await apis[user].save_pipeline(datasets[user], fit(0)) for user in USERS}

        clients: list[ReconnectingClient] = []

        def add_client(user: str, topic: dict[str, str]) -> ReconnectingClient:
            name = f"{user}-{next(iter(topic))}-{len(clients)}"
            clients.append(ReconnectingClient(name, http, node.web.url, node.tokens[user], user, [topic]))
            return clients[-1]

        # Pipeline and user clients listen before any job exists, so they hear each from seq 1 live.
        for user in USERS:
            for _ in range(CLIENTS_PER_USER["user"]):
                add_client(user, {"user": "me"})
            for _ in range(CLIENTS_PER_USER["pipeline_id"]):
                add_client(user, {"pipeline_id": pipelines[user]})
        await asyncio.gather(*(c.start() for c in clients))

        submitted = [
            await apis[user].submit(datasets[user], fit(i)) for i in range(JOBS_PER_USER) for user in USERS
        ]
        owner_of = {str(job["id"]): USERS[i % 2] for i, job in enumerate(submitted)}
        jobs_of = {user: [j for j, owner in owner_of.items() if owner == user] for user in USERS}
        assert {job["pipeline_id"] for job in submitted} == set(pipelines.values())

        # Job clients subscribe as the canvas does after "Run training": since 0 replays the whole trail.
        job_clients = [
            add_client(user, {"job_id": jobs_of[user][index % JOBS_PER_USER]})
            for user in USERS
            for index in range(CLIENTS_PER_USER["job_id"])
        ]
        await asyncio.gather(*(c.start(since={c.topics[0]["job_id"]: 0}) for c in job_clients))
        assert len(clients) == 2 * sum(CLIENTS_PER_USER.values()) == 50
        assert {c.owner for c in clients} == set(USERS)
        assert {next(iter(c.topics[0])) for c in clients} == {"user", "pipeline_id", "job_id"}

        def watched(client: ReconnectingClient, after_restart: list[str] | None = None) -> list[str]:
            topic = client.topics[0]
            if "job_id" in topic:
                return [topic["job_id"]]
            extra = [j for j in after_restart or [] if owner_of[j] == client.owner]
            return jobs_of[client.owner] + extra

        # Each client holds a seq of each job it watches, so its reconnect asks for what follows it.
        for client in clients:
            for job_id in watched(client):
                await client.live.wait_for(persisted_event_of(job_id), 30.0)

        # Kill with two fits under way (one per worker) and jobs still queued behind them.
        await wait_database(
            database,
            lambda rows: sum(r.status == "running" and r.last_seq >= 2 for r in rows.values()) == 2
            and any(r.status == "queued" for r in rows.values()),
            "two jobs running, one queued",
            90.0,
            clients,
        )
        for client in clients:
            await client.live.sync("before-kill")
        web_pid = node.web.process.pid
        os.killpg(web_pid, signal.SIGKILL)
        killed_at = time.monotonic()
        deadline = killed_at + 10.0
        while node.web.process.running or group_members(web_pid):
            assert time.monotonic() < deadline, f"the killed group lives on: {group_members(web_pid)}"
            await asyncio.sleep(0.05)
        assert all(worker.running for worker in node.workers), "the workers are separate and keep running"
        # Read after the kill: whatever changes from here on happened with no web process.
        at_kill = await jobs_in_database(database)

        # No web process: the workers go on alone. Wait until both fits have finished, a queued job
        # has started and some job's heartbeat has moved on, all recorded by the workers alone.
        running_at_kill = {j for j, r in at_kill.items() if r.status == "running"}
        queued_at_kill = {j for j, r in at_kill.items() if r.status == "queued"}
        assert running_at_kill, at_kill

        def outage_progress(rows: dict[str, JobRow]) -> bool:
            finished = [j for j in running_at_kill if rows[j].status in TERMINAL]
            begun = [j for j in queued_at_kill if rows[j].status != "queued"]
            beats = [j for j, r in rows.items() if r.heartbeat_at not in (None, at_kill[j].heartbeat_at)]
            return len(finished) == len(running_at_kill) and len(begun) >= min(1, len(queued_at_kill)) and bool(beats)

        during = await wait_database(database, outage_progress, "work done while the web is dead", OUTAGE_LIMIT_S)
        assert http_status(f"{node.web.url}{API}/health") is None, "nothing listens on the port during the outage"
        assert all(during[j].status == "succeeded" for j in running_at_kill), during
        assert all(during[j].last_seq > at_kill[j].last_seq for j in running_at_kill), "their ends were recorded"
        for client in clients:
            client.check()
            assert len(client.lost) == 1 and client.lost[0][0] >= killed_at, f"{client.name} lost its socket once"
            # No close frame ever came (a SIGKILLed server sends none): the connection just dropped.
            assert client.lost[0][1] == aiohttp.WSCloseCode.ABNORMAL_CLOSURE, (client.name, client.lost)
            assert client.live.ws.closed
        # What the clients hold is stale: the end of those fits happened while they were cut off.
        for client in clients:
            for job_id in set(watched(client)) & running_at_kill:
                assert client.live.view_of(job_id) != (during[job_id].status, during[job_id].last_seq)

        # A new web process on the same port; the clients find it by themselves.
        restarted_at = time.monotonic()
        new_web = node.deployment.start_web(port=node.port)
        await asyncio.to_thread(new_web.wait_serving)
        await asyncio.to_thread(new_web.wait_ready)
        await asyncio.gather(*(c.wait_connections(2, 60.0) for c in clients))
        for client in clients:
            assert client.refused >= 1, f"{client.name} reconnected only once a web process served again"
            assert len(client.connections) == 2

        final = await wait_database(
            database, lambda rows: all(r.status in TERMINAL for r in rows.values()), "every job terminal", 90.0, clients
        )
        assert sorted(final) == sorted(owner_of), "no job lost, none added"
        assert {j: r.status for j, r in final.items()} == dict.fromkeys(owner_of, "succeeded")

        # Every client converges to the database for every job it watches, over its new connection.
        stored = {job_id: await apis[owner].events(job_id) for job_id, owner in owner_of.items()}
        for job_id, trail in stored.items():
            assert [e["seq"] for e in trail] == list(range(1, final[job_id].last_seq + 1)), "gap-free trail"
        for client in clients:
            for job_id in watched(client):
                await converged(client, job_id, (final[job_id].status, final[job_id].last_seq))
        await asyncio.gather(*(c.live.sync("converged") for c in clients))
        for client in clients:
            for job_id in watched(client):
                assert client.persisted(job_id) == stored[job_id], (
                    f"{client.name} ({client.topics}): every event of {job_id} exactly once, in order, "
                    f"got {[e['seq'] for e in client.persisted(job_id)]}"
                )

        # Jobs submitted after the restart are delivered live to the pipeline and user clients.
        later = [await apis[user].submit(datasets[user], QUICK_FIT) for user in USERS]
        later_ids = [str(job["id"]) for job in later]
        owner_of.update(zip(later_ids, USERS, strict=True))
        followers = [c for c in clients if "job_id" not in c.topics[0]]
        for client in followers:
            job_id = next(j for j in later_ids if owner_of[j] == client.owner)
            await client.live.wait_status(job_id, TERMINAL, within_s=60.0)
        await asyncio.gather(*(c.live.sync("after") for c in followers))
        for job_id in later_ids:
            stored[job_id] = await apis[owner_of[job_id]].events(job_id)
            assert stored[job_id][-1]["status"] == "succeeded", stored[job_id]
        for client in followers:
            for job_id in watched(client, later_ids):
                assert client.persisted(job_id) == stored[job_id], f"{client.name}: {job_id}"
        for client in clients:
            assert not [f for f in client.frames() if f["type"] == "error"], client.name
            heard = client.connections[0].job_ids() | client.live.job_ids()
            assert heard <= set(watched(client, later_ids)), f"{client.name} heard of jobs it does not watch"

        # One attempt and one model version per job; versions 1..n per pipeline with no gap.
        final = await jobs_in_database(database)
        assert sorted(final) == sorted(owner_of)
        assert all(r.status == "succeeded" and r.attempt == 1 for r in final.values()), final
        for user in USERS:
            versions = await apis[user].versions(pipelines[user])
            mine = [j for j, owner in owner_of.items() if owner == user]
            assert sorted(int(v["version"]) for v in versions) == list(range(1, len(mine) + 1))
            assert sorted(str(v["job_id"]) for v in versions) == sorted(mine)
            assert sorted(int(final[j].model_version or 0) for j in mine) == list(range(1, len(mine) + 1))

        # The models the workers stored with no web process are served by the new one, as recorded,
        # and nothing else is stored: one model per job, no temporary object.
        uris = set()
        for job_id, owner in owner_of.items():
            uri = (await apis[owner].job(job_id))["model_artifact_uri"]
            body, sha256 = await apis[owner].artifact(job_id)
            assert hashlib.sha256(body).hexdigest() == sha256 and body == node.storage.read_model(uri), job_id
            uris.add(uri.rpartition(MODELS)[2])
        assert node.storage.model_files() == uris
        assert node.storage.temporary() == []

        await asyncio.gather(*(c.close() for c in clients))

    # Nothing left running: every remaining process stops on SIGTERM without leaving children.
    for process in [new_web.process, *node.workers]:
        process.stop()
        assert not process.running and process.left_behind == [], f"{process.name}: {process.left_behind}"
    codes = Counter(code for c in clients for _, code in c.lost)
    print(
        f"\nweb killed after {killed_at - started:.1f} s; outage {restarted_at - killed_at:.1f} s with "
        f"{len(running_at_kill)} fits running and {len(queued_at_kill)} jobs queued at the kill; close codes seen "
        f"{dict(codes)}; reconnect attempts refused {sum(c.refused for c in clients)}; "
        f"total {time.monotonic() - started:.1f} s"
    )
