"""Noisy neighbour (issue 13): one user's heavy or crafted requests never slow another user down.

A real deployment (``mlw serve --no-worker`` and one ``mlw worker`` with two slots, SQLite,
a private Redis, ``jobs.max_running_per_user = 1``) serves two users. User A, in turn:
uploads a CSV whose second line has 100,000 fields and asks for its preview 8 times at
once; opens 150 websockets subscribed to ``{"user": "me"}``; submits six 995-node
pipelines; holds 3 long jobs while B submits a short one. Meanwhile B reads its job
(``GET /training-jobs/{id}``) back to back from two loops: each phase asserts B's p99
under 250 ms over at least ``MIN_SAMPLES`` requests and that nothing answered 5xx. The
last test bounds the web process's memory growth over the whole module.

This is the one suite with latency bounds in assertions, because the issue asks for them:
they are p99s over hundreds of samples, never single timings.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import psutil  # type: ignore[import-untyped]
import pytest

from server.redis_server import EmbeddedRedis
from tests.e2e.clients import Api, Frame
from tests.e2e.conftest import Deployment, WebProcess, training_csv  # noqa: F401 - a fixture
from tests.e2e.processes import API, WS_PATH
from tests.job_fixtures import graph_for, long_chain
from tests.load.conftest import raise_open_file_limit

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

P99_BOUND_S = 0.25
MIN_SAMPLES = 200
MAX_RSS_GROWTH = 500 * 2**20
SOCKETS = 150
PIPELINES = 6
PIPELINE_NODES = 995
LONG_JOBS = 3
START_WITHIN_S = 10.0
MB = 2**20


@dataclasses.dataclass
class Node:
    """The deployment and what the module's tests share."""

    web: WebProcess
    alice: str
    bob: str
    training_csv: Path
    rss_at_start: int = 0
    peak_rss: int = 0
    bob_job: str = ""
    bob_dataset: str = ""

    def rss(self) -> int:
        value = int(psutil.Process(self.web.process.pid).memory_info().rss)
        self.peak_rss = max(self.peak_rss, value)
        return value


@pytest.fixture(scope="module")
def node(
    load_redis: EmbeddedRedis, training_csv: Path, tmp_path_factory: pytest.TempPathFactory  # noqa: F811
) -> Iterator[Node]:
    """Web process, one worker with two slots, users alice (A) and bob (B)."""
    assert raise_open_file_limit() >= 1000
    data_dir = tmp_path_factory.mktemp("isolation")
    deployment = Deployment({
        "MLW_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'mlw.db'}",
        "MLW_REDIS_URL": load_redis.url,
        "MLW_DATA_DIR": str(data_dir),
        "MLW_WORKER_CONCURRENCY": "2",
        "MLW_JOBS_MAX_RUNNING_PER_USER": "1",
        "MLW_JOBS_MAX_ACTIVE_PER_USER": "50",
    })
    try:
        web = deployment.start_web()
        web.wait_serving()
        worker = deployment.start_worker()
        alice, bob = deployment.create_user("alice"), deployment.create_user("bob")
        worker.wait_for_line("shim worker ready")
        web.wait_ready()
        shared = Node(web, alice, bob, training_csv)
        asyncio.run(_bob_first_job(shared))
        shared.rss_at_start = shared.rss()
        yield shared
    finally:
        deployment.stop()


async def _bob_first_job(node: Node) -> None:
    async with aiohttp.ClientSession() as session:
        api = Api(session, node.web.url, node.bob)
        node.bob_dataset = await api.upload_dataset(node.training_csv)
        job = await api.submit(node.bob_dataset, graph_for("logistic_regression"))
        node.bob_job = str(job["id"])
        await api.wait_job(node.bob_job)


@dataclasses.dataclass
class Probe:
    """B's requests during one phase."""

    latencies: list[float] = dataclasses.field(default_factory=list)
    statuses: Counter[int] = dataclasses.field(default_factory=Counter)

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _probe(session: aiohttp.ClientSession, url: str, token: str, stop: asyncio.Event, probe: Probe) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    while not stop.is_set():
        started = time.perf_counter()
        try:
            async with session.get(url, headers=headers) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            status = 599  # a dropped connection counts as a server failure
        probe.latencies.append(time.perf_counter() - started)
        probe.statuses[status] += 1
        await asyncio.sleep(0.01)


async def _sample_rss(node: Node, stop: asyncio.Event) -> None:
    """Keeps ``node.peak_rss`` up to date (a short spike during a phase counts)."""
    while not stop.is_set():
        node.rss()
        await asyncio.sleep(0.2)


@asynccontextmanager
async def bob_watching(node: Node, phase: str) -> AsyncIterator[Probe]:
    """B reads its job from two loops while the block runs; then B's p99 and statuses are checked."""
    probe, stop = Probe(), asyncio.Event()
    url = f"{node.web.url}{API}/training-jobs/{node.bob_job}"
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        loops = [asyncio.create_task(_probe(session, url, node.bob, stop, probe)) for _ in range(2)]
        loops.append(asyncio.create_task(_sample_rss(node, stop)))
        try:
            yield probe
            deadline = time.monotonic() + 60
            while len(probe.latencies) < MIN_SAMPLES and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await asyncio.gather(*loops)
    node.rss()
    print(
        f"\n[{phase}] B: {len(probe.latencies)} GETs, p50 {statistics.median(probe.latencies) * 1000:.0f} ms, "
        f"p99 {probe.p(0.99) * 1000:.0f} ms, max {max(probe.latencies) * 1000:.0f} ms, "
        f"statuses {dict(probe.statuses)}; web RSS {node.rss() / MB:.0f} MB"
    )
    assert len(probe.latencies) >= MIN_SAMPLES
    assert probe.statuses.keys() == {200}, f"B got {dict(probe.statuses)} during {phase}"
    assert probe.p(0.99) < P99_BOUND_S, f"B's p99 was {probe.p(0.99) * 1000:.0f} ms during {phase}"


def _wide_row_csv() -> bytes:
    """About 200 KB: a 2-column header, then one line of 100,000 fields, then ordinary lines."""
    lines = ["a,b", ",".join(["1"] * 100_000), *(f"{i},{i % 2}" for i in range(50))]
    return ("\n".join(lines) + "\n").encode()


async def test_a_wide_row_csv_and_eight_concurrent_previews_do_not_slow_another_user(node: Node) -> None:
    headers = {"Authorization": f"Bearer {node.alice}"}
    async with aiohttp.ClientSession() as session, bob_watching(node, "wide-row CSV"):
        form = aiohttp.FormData()
        form.add_field("file", _wide_row_csv(), filename="wide.csv", content_type="text/csv")
        async with session.post(f"{node.web.url}{API}/datasets", data=form, headers=headers) as response:
            body = await response.json()
            status = response.status
        assert status in (201, 422), body
        print(f"\nthe wide-row upload was answered {status}: {json.dumps(body)[:300]}")
        if status == 201:
            url = f"{node.web.url}{API}/datasets/{body['id']}"

            async def preview() -> int:
                async with session.get(url, headers=headers) as r:
                    await r.read()
                    return r.status

            previews = await asyncio.gather(*(preview() for _ in range(8)))
            assert set(previews) == {200}, previews


async def _open_socket(session: aiohttp.ClientSession, url: str, token: str) -> tuple[str, Any]:
    """One of A's sockets: ``("open", ws)``, ``("refused", code)``, or ``("error", status)`` for a 5xx."""
    try:
        ws = await session.ws_connect(url)
    except aiohttp.WSServerHandshakeError as exc:
        return ("error" if exc.status >= 500 else "refused", exc.status)
    await ws.send_str(json.dumps({"op": "auth", "token": token}))
    msg = await ws.receive(timeout=30)
    if msg.type is not aiohttp.WSMsgType.TEXT:
        await ws.close()
        return ("refused", ws.close_code)
    await ws.send_str(json.dumps({"op": "subscribe", "topics": [{"user": "me"}], "ref": "all"}))
    return ("open", ws)


async def test_one_hundred_fifty_sockets_of_one_user_do_not_slow_another_user(node: Node) -> None:
    url = f"{node.web.url}{WS_PATH}"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session, bob_watching(node, "150 websockets"):
        outcomes = await asyncio.gather(*(_open_socket(session, url, node.alice) for _ in range(SOCKETS)))
        opened = [ws for kind, ws in outcomes if kind == "open"]
        kinds = Counter(kind for kind, _ in outcomes)
        print(f"\nA's {SOCKETS} sockets: {dict(kinds)}; refusals: {Counter(v for k, v in outcomes if k == 'refused')}")
        assert kinds["error"] == 0, "no handshake answers 5xx"
        # Each open socket gets its snapshot; B's own socket is served all the while.
        snapshots = await asyncio.gather(*(ws.receive(timeout=60) for ws in opened))
        assert all(m.type is aiohttp.WSMsgType.TEXT for m in snapshots)
        kind, bob_ws = await _open_socket(session, url, node.bob)
        assert kind == "open", f"B's socket: {kind} {bob_ws}"
        await asyncio.sleep(3)
        await asyncio.gather(*(ws.close() for ws in [*opened, bob_ws]))


def _pipeline_requests(dataset: str, index: int) -> list[tuple[str, str, bytes]]:
    """A's save and submission of one 995-node pipeline, as encoded request bodies."""
    big = long_chain(graph_for("logistic_regression"), PIPELINE_NODES)
    big["nodes"][1]["data"]["config"] = {"strategy": "mean", "columns": [f"f{index}"]}
    return [
        ("PUT", "/pipelines", json.dumps({"dataset_source_id": dataset, "graph": big}).encode()),
        ("POST", "/training-jobs",
         json.dumps({"dataset_source_id": dataset, "node_id": "train", "graph": big}).encode()),
    ]


async def test_six_995_node_pipelines_of_one_user_do_not_slow_another_user(node: Node) -> None:
    async with aiohttp.ClientSession() as session:
        api = Api(session, node.web.url, node.alice)
        dataset = await api.upload_dataset(node.training_csv)
        headers = {"Authorization": f"Bearer {node.alice}", "Content-Type": "application/json"}
        # A's bodies are encoded before B starts watching, and A's large answers (the saved
        # graph) are not decoded: this client's own JSON work runs on the loop that times B's
        # requests, and it counted in B's latency as if the server had been slow.
        requests = [_pipeline_requests(dataset, i) for i in range(PIPELINES)]

        async def one(index: int) -> list[int]:
            statuses = []
            for method, path, body in requests[index]:
                for _ in range(20):  # a 429 (cpu_busy: A's share of the executor is full) is retried
                    async with session.request(method, f"{node.web.url}{API}{path}", data=body,
                                               headers=headers) as r:
                        raw = await r.read()
                    if r.status != 429:
                        break
                    await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                statuses.append(r.status)
                if r.status == 202:
                    job_id = json.loads(raw)["id"]
                    await session.post(f"{node.web.url}{API}/training-jobs/{job_id}/cancel", headers=headers)
            return statuses

        async with bob_watching(node, "six 995-node pipelines"):
            results = await asyncio.gather(*(one(i) for i in range(PIPELINES)))
        print(f"\nA's pipelines (PUT, POST): {results}")
        assert all(put in (200, 201) and post == 202 for put, post in results), results


async def test_three_long_jobs_of_one_user_leave_a_slot_for_another_users_short_job(node: Node) -> None:
    async with aiohttp.ClientSession() as session:
        alice, bob = Api(session, node.web.url, node.alice), Api(session, node.web.url, node.bob)
        dataset = await alice.upload_dataset(node.training_csv)
        long = graph_for("random_forest", hyperparameters={"n_estimators": 3000})
        held: list[Frame] = [await alice.submit(dataset, long) for _ in range(LONG_JOBS)]
        await alice.wait_job(held[0]["id"], frozenset({"running"}), within_s=60)
        # A's earlier pipeline jobs were cancelled: once the slots are quiet, B's job must start at once.
        async with bob_watching(node, "three long jobs"):
            short = await bob.submit(node.bob_dataset, graph_for("logistic_regression"))
            started = time.monotonic()
            job = await bob.wait_job(short["id"], frozenset({"running", "succeeded", "failed"}), within_s=60)
            waited = time.monotonic() - started
            others = [await alice.job(j["id"]) for j in held[1:]]
        print(f"\nB's job started after {waited:.1f} s; A's: {[o['status'] for o in others]}")
        assert waited < START_WITHIN_S, f"B's job waited {waited:.1f} s behind A's jobs"
        assert job["status"] in ("running", "succeeded")
        assert [o["status"] for o in others] == ["queued"] * (LONG_JOBS - 1), "A's other jobs wait their turn"
        for j in held:
            await session.post(f"{node.web.url}{API}/training-jobs/{j['id']}/cancel",
                               headers={"Authorization": f"Bearer {node.alice}"})
        assert (await bob.wait_job(short["id"]))["status"] == "succeeded"
        for j in held:
            assert (await alice.wait_job(j["id"], within_s=60))["status"] == "cancelled"


def test_the_web_process_grew_by_less_than_500_mb_over_the_whole_module(node: Node) -> None:
    end = node.rss()
    print(f"\nweb RSS: start {node.rss_at_start / MB:.0f} MB, peak {node.peak_rss / MB:.0f} MB, end {end / MB:.0f} MB")
    assert node.peak_rss - node.rss_at_start < MAX_RSS_GROWTH
