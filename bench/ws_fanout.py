"""Websocket fan-out: event delivery latency to N clients vs 1 client.

Starts its own Redis, ``mlw serve --no-worker`` on SQLite and one ``mlw worker``, then
runs the same sequence of short jobs twice: watched by 1 socket (the baseline), then by
``--clients`` sockets of the same user, all subscribed to ``{"user": "me"}``. Latency of
one delivery = the time a socket read the event minus the event's ``at`` (stamped when
the event was written; same machine, same clock). Printed as ratios to the baseline
measured in the same run. The N sockets are read by this one Python process, so the
figure includes the client's own share of the two cores, not the server's alone.

    .venv/bin/python bench/ws_fanout.py [--clients 500] [--jobs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from sklearn.datasets import load_breast_cancer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from server.redis_server import EmbeddedRedis  # noqa: E402
from tests.e2e.clients import Api  # noqa: E402
from tests.e2e.conftest import Deployment  # noqa: E402
from tests.e2e.processes import WS_PATH  # noqa: E402
from tests.job_fixtures import graph_for  # noqa: E402
from tests.load.conftest import _create_users, raise_open_file_limit  # noqa: E402

FIT = graph_for("random_forest", hyperparameters={"n_estimators": 10})


class TimedSocket:
    """A subscribed socket that stamps each persisted event with the wall time it was read."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, base_url: str, token: str) -> TimedSocket:
        ws = await http.ws_connect(f"{base_url}{WS_PATH}")
        await ws.send_str(json.dumps({"op": "auth", "token": token}))
        await ws.receive_json(timeout=30)  # welcome
        await ws.send_str(json.dumps({"op": "subscribe", "topics": [{"user": "me"}], "ref": "s"}))
        await ws.receive_json(timeout=30)  # snapshot
        return cls(ws)

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                frame = json.loads(msg.data)
                if "seq" in frame:
                    self.received.append((time.time(), frame))

    async def close(self) -> None:
        await self.ws.close()
        await self.reader


def _at(frame: dict[str, Any]) -> float:
    return dt.datetime.fromisoformat(frame["at"]).timestamp()


async def _phase(
    http: aiohttp.ClientSession, url: str, token: str, dataset: str, clients: int, jobs: int
) -> list[float]:
    """Delivery latencies (seconds), every socket and event, of ``jobs`` jobs run one after another."""
    gate = asyncio.Semaphore(50)

    async def one() -> TimedSocket:
        async with gate:
            return await TimedSocket.open(http, url, token)

    sockets = await asyncio.gather(*(one() for _ in range(clients)))
    api = Api(http, url, token)
    try:
        for _ in range(jobs):
            job = await api.submit(dataset, FIT)
            await api.wait_job(str(job["id"]))
        await asyncio.sleep(1.0)  # the last events reach every socket
    finally:
        await asyncio.gather(*(sock.close() for sock in sockets))
    return [read_at - _at(frame) for sock in sockets for read_at, frame in sock.received]


def _summary(latencies: list[float]) -> tuple[float, float, float]:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return statistics.median(ordered) * 1000, p95 * 1000, ordered[-1] * 1000


async def _measure(url: str, token: str, csv: Path, clients: int, jobs: int) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        dataset = await Api(http, url, token).upload_dataset(csv)
        base = _summary(await _phase(http, url, token, dataset, 1, jobs))
        many = _summary(await _phase(http, url, token, dataset, clients, jobs))
    print(f"jobs={jobs} (10-tree forests, one after another), events per job ~5")
    print(f"{'clients':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'p50/base':>9} {'p95/base':>9}")
    for label, (p50, p95, worst) in (("1", base), (str(clients), many)):
        print(f"{label:>8} {p50:8.1f} {p95:8.1f} {worst:8.1f} {p50 / base[0]:9.2f} {p95 / base[1]:9.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=20)
    args = parser.parse_args()
    raise_open_file_limit(max(4096, 2 * args.clients + 1024))
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(workdir=Path(tmp) / "redis") as redis_server:
        data = load_breast_cancer(as_frame=True).frame.rename(columns=lambda name: str(name).replace(" ", "_"))
        csv = Path(tmp) / "breast_cancer.csv"
        data.to_csv(csv, index=False)
        database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'mlw.db'}"
        deployment = Deployment(
            {"MLW_DATABASE_URL": database_url, "MLW_REDIS_URL": redis_server.url, "MLW_DATA_DIR": tmp,
             "MLW_JOBS_MAX_ACTIVE_PER_USER": "50"}
        )
        try:
            web = deployment.start_web()
            web.wait_serving()
            worker = deployment.start_worker()
            (token,) = asyncio.run(_create_users(database_url, 1))
            worker.wait_for_line("shim worker ready")
            web.wait_ready()
            asyncio.run(_measure(web.url, token, csv, args.clients, args.jobs))
        finally:
            for process in reversed(deployment.processes):
                process.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
