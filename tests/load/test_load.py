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
from sqlalchemy import text

from store.engine import create_engine
from tests.e2e.clients import TERMINAL, Api, Frame, LiveSocket
from tests.e2e.processes import API
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


async def workers_of(database_url: str, job_ids: list[str]) -> dict[str, str]:
    """The ``worker`` (``host:pid``) that ran each job, read from the database."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, worker FROM training_jobs"))).all()
    finally:
        await engine.dispose()
    return {str(row.id): str(row.worker) for row in rows if str(row.id) in set(job_ids)}


async def test_two_hundred_jobs_queued_at_once_by_ten_users_on_two_workers_all_succeed_with_gap_free_versions(
    load_cluster: LoadCluster, breast_cancer_csv: Path
) -> None:
    worker_pids: dict[int, int] = {}
    async with client_session() as http:
        apis = [Api(http, load_cluster.url, token) for token in load_cluster.tokens]
        datasets = await asyncio.gather(*(api.upload_dataset(breast_cancer_csv) for api in apis))
        started = time.monotonic()
        # All 200 at once, the canvas's autosave of the same pipeline included.
        submitted = await asyncio.gather(
            *(api.submit(dataset, fit(i)) for api, dataset in zip(apis, datasets, strict=True) for i in range(JOBS_PER_USER))
        )
        submit_s = time.monotonic() - started
        ids = [str(job["id"]) for job in submitted]
        assert len(set(ids)) == USERS * JOBS_PER_USER
        done = await wait_terminal(apis, ids, 180.0, lambda: worker_pids.update(load_cluster.worker_pids()))
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

    ran_on = await workers_of(load_cluster.database_url, ids)
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
