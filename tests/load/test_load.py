"""Load: 200 jobs queued at once by ten users on two workers; 1,000 websocket clients for a minute.

Both run against real processes (``load_cluster``): jobs go through the REST API and are
trained by the two ``mlw worker`` processes; the database, read through the API, is the
truth the results are compared with. The figures (durations, throughput, the web
process's memory) are printed, not asserted on: speed targets belong in ``bench/``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import TERMINAL, Api, Frame, LiveSocket, workers_of
from tests.e2e.processes import API, worker_processes
from tests.job_fixtures import graph_for
from tests.load.conftest import USERS, LoadCluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

JOBS_PER_USER = 20
CLIENTS = 1_000
WINDOW_S = 60.0
CONNECTING_AT_ONCE = 50
MAX_RSS_GROWTH = 50 * 2**20
"""Bound on the web process's growth over the minute with 1,000 sockets (see the test's docstring)."""
MB = 2**20


def fit(index: int) -> dict[str, Any]:
    """A 10-tree forest (tens of milliseconds); ``index`` varies ``max_depth``, which keeps the pipeline id."""
    return graph_for("random_forest", hyperparameters={"n_estimators": 10, "max_depth": 2 + index % 8})


@asynccontextmanager
async def client_session() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP session without a cap on connections: a thousand websockets share it."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        yield session


async def jobs_of(api: Api) -> dict[str, Frame]:
    """The user's jobs (the dashboard list), by id."""
    url = f"{api.base_url}{API}/users/me/training-jobs?limit=200"
    async with api.session.get(url, headers={"Authorization": f"Bearer {api.token}"}) as response:
        body = await response.json()
        assert response.status == 200, body
    return {str(job["id"]): job for job in body["items"]}


async def wait_terminal(
    apis: list[Api], job_ids: Iterable[str], within_s: float, on_poll: Any = None
) -> dict[str, Frame]:
    """Poll each user's list until every job in ``job_ids`` is terminal; returns those jobs."""
    wanted = set(job_ids)
    deadline = time.monotonic() + within_s
    while True:
        if on_poll is not None:
            on_poll()
        lists = await asyncio.gather(*(jobs_of(api) for api in apis))
        found = {job_id: job for jobs in lists for job_id, job in jobs.items() if job_id in wanted}
        pending = sorted(j for j in wanted if found.get(j, {}).get("status") not in TERMINAL)
        if not pending:
            return found
        assert time.monotonic() < deadline, f"{len(pending)} jobs not terminal after {within_s:g} s: {pending[:5]}"
        await asyncio.sleep(0.5)


async def test_two_hundred_jobs_queued_at_once_by_ten_users_on_two_workers_all_succeed_with_gap_free_versions(
    load_cluster: LoadCluster, breast_cancer_csv: Path
) -> None:
    worker_pids: dict[int, int] = {}
    async with client_session() as http:
        apis = [Api(http, load_cluster.url, token) for token in load_cluster.tokens]
        datasets = await asyncio.gather(*(api.upload_dataset(breast_cancer_csv) for api in apis))
        started = time.monotonic()
        # All 200 at once, the canvas's autosave of the same pipeline included.
        pairs = zip(apis, datasets, strict=True)
        submitted = await asyncio.gather(*(api.submit(ds, fit(i)) for api, ds in pairs for i in range(JOBS_PER_USER)))
        submit_s = time.monotonic() - started
        ids = [str(job["id"]) for job in submitted]
        assert len(set(ids)) == USERS * JOBS_PER_USER
        done = await wait_terminal(apis, ids, 180.0, lambda: worker_pids.update(worker_processes(load_cluster.workers)))
        total_s = time.monotonic() - started

        failed = {j: (job["status"], job["error_code"], job["error_message"]) for j, job in done.items()
                  if job["status"] != "succeeded"}
        assert failed == {}, f"{len(failed)} of {len(ids)} jobs did not succeed: {list(failed.items())[:5]}"

        for user, api in enumerate(apis):
            own = ids[user * JOBS_PER_USER:(user + 1) * JOBS_PER_USER]
            pipelines = {done[j]["pipeline_id"] for j in own}
            assert len(pipelines) == 1, f"one graph with varied hyperparameters is one pipeline: {pipelines}"
            versions = await api.versions(pipelines.pop())
            numbers = [int(v["version"]) for v in versions]
            assert sorted(numbers) == list(range(1, JOBS_PER_USER + 1)), f"user {user}: versions {sorted(numbers)}"
            assert {str(v["job_id"]) for v in versions} == set(own)
            assert sorted(int(done[j]["model_version"]) for j in own) == sorted(numbers)

    ran_on = {job_id: worker for job_id, worker in (await workers_of(load_cluster.database_url)).items()
              if job_id in set(ids)}
    assert sorted(ran_on) == sorted(ids)
    pids = {job: int(worker.rsplit(":", 1)[1]) for job, worker in ran_on.items()}
    strangers = {pid for pid in pids.values() if pid not in worker_pids}
    assert not strangers, f"jobs ran in processes of neither worker: {strangers} (known {worker_pids})"
    per_worker = Counter(worker_pids[pid] for pid in pids.values())
    assert set(per_worker) == {0, 1}, f"both workers ran jobs: {per_worker}"
    print(
        f"\n200 jobs: submitted in {submit_s:.2f} s, all succeeded after {total_s:.1f} s "
        f"({len(ids) / total_s:.1f} jobs/s); jobs per worker {dict(sorted(per_worker.items()))}"
    )


async def open_subscribed(
    http: aiohttp.ClientSession, base_url: str, token: str, gate: asyncio.Semaphore
) -> LiveSocket:
    """A socket subscribed to its user's jobs (``{"user": "me"}``), opened at most ``gate`` at a time."""
    async with gate:
        sock = await LiveSocket.open(http, base_url, token)
        await sock.subscribe([{"user": "me"}])
        return sock


def delivery_faults(sock: LiveSocket, trails: dict[str, list[Frame]]) -> list[str]:
    """What this socket got wrong: error frames, or a followed job's events not exactly the stored trail."""
    faults = [f"error frame {frame}" for frame in sock.frames if frame["type"] == "error"]
    for job_id, stored in trails.items():
        received = sock.persisted(job_id)
        if received != stored:
            faults.append(f"job {job_id}: seqs {[e['seq'] for e in received]}, stored {[e['seq'] for e in stored]}")
    return faults


async def test_a_thousand_websocket_clients_for_a_minute_get_every_event_in_order_and_server_memory_stays_flat(
    load_cluster: LoadCluster, breast_cancer_csv: Path
) -> None:
    """100 sockets per user follow ``{"user": "me"}`` while each user runs one job after another.

    Memory: the start figure is taken with every socket connected and subscribed, so the
    per-socket cost (about 30 kB each: buffers, queue, sender task) is in the baseline, and
    the bound is on growth over the minute. Everything the hub keeps is bounded per socket
    (its queue of ``queue_size`` frames) and per job, so a flat server grows by allocator
    noise only; a leak of every frame delivered (about 100 k frames of ~0.5 kB) would grow
    it by ~50 MB and fail.
    """
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)
    async with client_session() as http:
        apis = [Api(http, load_cluster.url, token) for token in load_cluster.tokens]
        datasets = await asyncio.gather(*(api.upload_dataset(breast_cancer_csv) for api in apis))
        rss_idle = load_cluster.web_rss()
        started = time.monotonic()
        sockets = await asyncio.gather(
            *(open_subscribed(http, load_cluster.url, load_cluster.tokens[i % USERS], gate) for i in range(CLIENTS))
        )
        connect_s = time.monotonic() - started
        rss_start = load_cluster.web_rss()
        rss_samples = [rss_start]
        owner_of: dict[str, int] = {}
        deadline = time.monotonic() + WINDOW_S
        rounds = 0
        statuses: Counter[str] = Counter()
        while time.monotonic() < deadline:
            jobs = await asyncio.gather(*(api.submit(ds, fit(rounds)) for api, ds in zip(apis, datasets, strict=True)))
            owner_of.update({str(job["id"]): user for user, job in enumerate(jobs)})
            ended = await wait_terminal(apis, [str(job["id"]) for job in jobs], 60.0)
            statuses.update(job["status"] for job in ended.values())
            rounds += 1
            rss_samples.append(load_cluster.web_rss())
            await asyncio.sleep(1.0)
        window_s = time.monotonic() - deadline + WINDOW_S
        rss_end = load_cluster.web_rss()

        # A pong answers after everything queued before it: each socket then holds all it will get.
        await asyncio.gather(*(sock.sync("end") for sock in sockets))
        trails = dict(zip(owner_of, await asyncio.gather(*(apis[u].events(j) for j, u in owner_of.items())),
                          strict=True))
        faults: dict[int, list[str]] = {}
        for index, sock in enumerate(sockets):
            user = index % USERS
            followed = {job_id: trail for job_id, trail in trails.items() if owner_of[job_id] == user}
            found = delivery_faults(sock, followed)
            if found:
                faults[index] = found
        frames = sum(len(sock.frames) for sock in sockets)
        await asyncio.gather(*(sock.close() for sock in sockets))

    assert set(statuses) == {"succeeded"}, statuses
    for job_id, trail in trails.items():
        assert [e["seq"] for e in trail] == list(range(1, len(trail) + 1)), f"job {job_id}: stored trail has gaps"
        assert len(trail) >= 4, f"job {job_id}: queued, running, version and succeeded at least: {trail}"
    assert faults == {}, f"{len(faults)} of {CLIENTS} sockets: {list(faults.items())[:3]}"
    samples = ", ".join(f"{rss / MB:.0f}" for rss in rss_samples)
    print(
        f"\n{CLIENTS} sockets connected and subscribed in {connect_s:.1f} s; {window_s:.0f} s window, "
        f"{len(owner_of)} jobs in {rounds} rounds, {frames} frames received\n"
        f"web RSS: idle {rss_idle / MB:.1f} MB, start {rss_start / MB:.1f} MB, end {rss_end / MB:.1f} MB "
        f"(growth {(rss_end - rss_start) / MB:+.1f} MB); samples MB: {samples}"
    )
    assert rss_end - rss_start < MAX_RSS_GROWTH, f"web RSS grew {(rss_end - rss_start) / MB:.1f} MB over the window"
