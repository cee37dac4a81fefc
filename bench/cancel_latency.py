"""Cancel latency: cancel request → ``cancelled`` event received, for running fits.

Starts its own Redis (unless ``--redis-url``), a SQLite database and one ``mlw worker``
process, then for each iterative family runs ``--runs`` long fits, cancels each once its
fit reports progress, and times the request until the ``cancelled`` event arrives on the
user's Redis channel. The baseline, measured in the same run, is cancelling a job that is
still queued (a database transition and a publish, no actor involved).

    .venv/bin/python bench/cancel_latency.py [--runs 20] [--families xgboost lightgbm random_forest]

Target (issue 5): p50 ≤ 300 ms and max ≤ 1 s for every family.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import redis.asyncio as aioredis
from sklearn.datasets import make_classification

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from actors.jobs.cancel_signal import RedisCancelSignals  # noqa: E402
from actors.jobs.context import JobContext  # noqa: E402
from actors.jobs.publish import RedisPublisher, channel_for  # noqa: E402
from actors.jobs.service import SubmitRequest, cancel_training_job, submit_training_job  # noqa: E402
from actors.jobs.training_actor import make_sender  # noqa: E402
from server.redis_server import EmbeddedRedis  # noqa: E402
from shim.brokers.redis import RedisBroker  # noqa: E402
from store.datasets import create_dataset  # noqa: E402
from store.engine import create_engine, create_session_factory  # noqa: E402
from store.migrate import upgrade_async  # noqa: E402
from store.reader import Reader  # noqa: E402
from store.settings import load_settings  # noqa: E402
from store.users import create_user  # noqa: E402

LONG = {
    "xgboost": {"n_estimators": 10000},
    "lightgbm": {"n_estimators": 10000},
    "random_forest": {"n_estimators": 5000},
}


def graph(model_type: str) -> dict[str, Any]:
    def node(node_id: str, kind: str, config: dict[str, Any]) -> dict[str, Any]:
        return {"id": node_id, "type": kind, "position": {"x": 0, "y": 0}, "data": {"label": node_id, "config": config}}

    return {
        "nodes": [
            node("src", "dataset_source", {}),
            node("split", "train_test_split", {"test_size": 0.25}),
            node("train", "train_model", {"model_type": model_type, "target": "target",
                                          "hyperparameters": LONG.get(model_type, {})}),
        ],
        "edges": [{"id": "a", "source": "src", "target": "split"}, {"id": "b", "source": "split", "target": "train"}],
    }


class Watcher:
    """Receives the user's events from Redis and records when each job's statuses arrive."""

    def __init__(self, client: aioredis.Redis, channel: str) -> None:
        self.client, self.channel = client, channel
        self.arrivals: dict[tuple[str, str], float] = {}
        self.progress: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        pubsub = self.client.pubsub()
        await pubsub.subscribe(self.channel)
        self._task = asyncio.create_task(self._run(pubsub))

    async def _run(self, pubsub: Any) -> None:
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            event = json.loads(message["data"])
            if event.get("type") == "job.progress" and event["progress"].get("stage") == "fit":
                self.progress.add(event["job_id"])
            elif "seq" in event:
                self.arrivals[(event["job_id"], event["status"])] = time.perf_counter()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait(self, job_id: str, status: str, within_s: float = 120.0) -> float:
        deadline = time.monotonic() + within_s
        while (job_id, status) not in self.arrivals:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {status} event for {job_id}")
            await asyncio.sleep(0.002)
        return self.arrivals[(job_id, status)]

    async def wait_fit(self, job_id: str, within_s: float = 120.0) -> None:
        deadline = time.monotonic() + within_s
        while job_id not in self.progress:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no fit progress for {job_id}")
            await asyncio.sleep(0.005)


def summary(values: list[float]) -> tuple[float, float]:
    return statistics.median(values) * 1000, max(values) * 1000


async def run(args: argparse.Namespace, redis_url: str, workdir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLW_")}
    env.update(MLW_REDIS_URL=redis_url, MLW_DATA_DIR=str(workdir / "data"), MLW_WORKER_CONCURRENCY="1",
               MLW_JOBS_HEARTBEAT_S="0.5", MLW_JOBS_PROGRESS_INTERVAL_S="0.1",
               MLW_JOBS_ONE_ACTIVE_PER_NODE="false", MLW_JOBS_MAX_ACTIVE_PER_USER="1000", PYTHONPATH=str(REPO))
    settings = load_settings({k: v for k, v in env.items() if k.startswith("MLW_")})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url)
    await upgrade_async(engine)
    sessions = create_session_factory(engine)
    x, y = make_classification(n_samples=20_000, n_features=20, n_informative=12, flip_y=0.2, random_state=3)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)]).assign(target=y)
    path = settings.data_dir / "slow.csv"
    frame.to_csv(path, index=False)
    async with sessions.begin() as session:
        user, _ = await create_user(session, "bench")
        dataset = await create_dataset(
            session, owner_id=user.id, name="slow", storage_uri=str(path), format="csv", n_rows=len(frame),
            columns=[{"name": c, "dtype": str(t)} for c, t in frame.dtypes.items()],
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        )
    client = aioredis.Redis.from_url(redis_url)
    broker = RedisBroker(url=redis_url, visibility_timeout_s=settings.worker.visibility_timeout_s)
    ctx = JobContext(settings=settings, sessions=sessions, publisher=RedisPublisher(client),
                     cancel_signals=RedisCancelSignals(client),
                     sender=make_sender(broker, settings.jobs.cancel_grace_s, settings.jobs.default_max_runtime_s))
    reader = Reader(user.id)
    watcher = Watcher(client, channel_for(user.id))
    await watcher.start()
    worker = subprocess.Popen([sys.executable, "-m", "server.cli", "worker"], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        baseline: list[float] = []
        results: dict[str, list[float]] = {}
        for family in args.families:
            latencies: list[float] = []
            request = SubmitRequest(dataset_source_id=dataset.id, node_id="train", graph=graph(family))
            for _ in range(args.runs):
                job = await submit_training_job(ctx, reader, request)
                await watcher.wait_fit(job.id)
                # A second job waits behind the running one on the single worker child:
                # cancelling it is the baseline (a transition and a publish, no actor).
                queued = await submit_training_job(ctx, reader, request)
                started = time.perf_counter()
                await cancel_training_job(ctx, reader, queued.id)
                baseline.append(await watcher.wait(queued.id, "cancelled") - started)
                started = time.perf_counter()
                await cancel_training_job(ctx, reader, job.id)
                latencies.append(await watcher.wait(job.id, "cancelled") - started)
            results[family] = latencies
            print(f"{family}: {len(latencies)} runs", flush=True)
        base_p50, base_max = summary(baseline)
        print(f"\nbaseline (cancel a queued job): p50 {base_p50:.1f} ms, max {base_max:.1f} ms, n={len(baseline)}")
        print(f"{'family':<16}{'p50 ms':>10}{'max ms':>10}{'p50/base':>10}{'target':>22}")
        for family, latencies in results.items():
            p50, top = summary(latencies)
            verdict = "ok" if p50 <= 300 and top <= 1000 else "MISSED"
            print(f"{family:<16}{p50:>10.1f}{top:>10.1f}{p50 / base_p50:>10.2f}{'p50<=300 max<=1000 ' + verdict:>22}")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        await watcher.stop()
        await client.aclose()
        broker.close()
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--families", nargs="+", default=list(LONG), choices=list(LONG))
    parser.add_argument("--redis-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlw-bench-") as tmp:
        if args.redis_url:
            asyncio.run(run(args, args.redis_url, Path(tmp)))
            return
        with EmbeddedRedis() as server:
            asyncio.run(run(args, server.url, Path(tmp)))


if __name__ == "__main__":
    main()
