"""Dispatch overhead of the shim vs a plain Celery task vs plain Dramatiq, on one Redis.

Each system runs its worker in this process with the same concurrency (thread pool) and
no-op jobs. Printed: burst throughput over ``--jobs`` jobs and enqueue->start latency
p50/p99 over ``--serial`` one-at-a-time jobs, with ratios to plain Celery.

    .venv/bin/python bench/shim_dispatch.py [--jobs 5000] [--serial 300] [--concurrency 4]
        [--redis-url redis://127.0.0.1:6379/4]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis


@dataclass
class Figures:
    throughput: float
    p50_ms: float
    p99_ms: float


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.latencies: list[float] = []
        self.done = threading.Event()
        self.target = 0

    def hit(self, sent_at: float) -> None:
        started = time.time()
        with self.lock:
            self.count += 1
            if sent_at:
                self.latencies.append((started - sent_at) * 1000)
            if self.count >= self.target:
                self.done.set()

    def expect(self, target: int) -> None:
        with self.lock:
            self.count, self.target = 0, target
            self.done.clear()


def measure(send: Callable[[float], None], rec: Recorder, jobs: int, serial: int) -> Figures:
    rec.expect(50)
    for _ in range(50):  # warm-up
        send(0.0)
    rec.done.wait(60)
    rec.expect(jobs)
    start = time.perf_counter()
    for _ in range(jobs):
        send(0.0)
    if not rec.done.wait(600):
        raise RuntimeError(f"only {rec.count} of {jobs} jobs finished")
    throughput = jobs / (time.perf_counter() - start)
    rec.latencies.clear()
    for _ in range(serial):
        rec.expect(1)
        send(time.time())
        rec.done.wait(30)
    ordered = sorted(rec.latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return Figures(throughput, statistics.median(ordered), p99)


def run_celery(url: str, concurrency: int, jobs: int, serial: int) -> Figures:
    from celery import Celery

    from shim.brokers.celery_app import celery_config

    rec = Recorder()
    app = Celery("bench-plain", set_as_current=False)
    app.conf.update(celery_config(url, 3600))

    @app.task(name="bench.noop", shared=False, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
    def noop(sent_at: float) -> None:
        rec.hit(sent_at)

    ready = threading.Event()

    class Controller(app.WorkController):  # type: ignore[misc, name-defined]
        def on_consumer_ready(self, consumer: Any) -> None:
            super().on_consumer_ready(consumer)
            ready.set()

    app.finalize()
    app.set_current()
    app.set_default()
    controller = Controller(app=app, hostname=f"plain-{uuid.uuid4().hex[:6]}@localhost", pool_cls="threads",
                            concurrency=concurrency, queues=["default"], loglevel="WARNING", without_heartbeat=True,
                            without_mingle=True, without_gossip=True)
    thread = threading.Thread(target=controller.start, daemon=True)
    thread.start()
    ready.wait(30)
    try:
        return measure(lambda sent_at: noop.apply_async(args=(sent_at,), queue="default"), rec, jobs, serial)
    finally:
        from celery.worker import state

        state.should_stop = 0
        thread.join(30)
        state.should_stop = None
        app.close()


def run_dramatiq_like(module: str, url: str, concurrency: int, jobs: int, serial: int) -> Figures:
    import importlib

    dq = importlib.import_module(module)
    broker = importlib.import_module(f"{module}.brokers.redis").RedisBroker(url=url)
    dq.set_broker(broker)
    rec = Recorder()

    @dq.actor(actor_name=f"noop_{uuid.uuid4().hex[:6]}")
    def noop(sent_at: float) -> None:
        rec.hit(sent_at)

    broker.emit_after("process_boot")
    worker = dq.Worker(broker, worker_threads=concurrency, worker_timeout=100)
    worker.start()
    try:
        return measure(lambda sent_at: noop.send(sent_at), rec, jobs, serial)
    finally:
        worker.stop()
        broker.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--serial", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--redis-url", default="")
    args = parser.parse_args(argv)
    embedded = None
    url = args.redis_url
    if not url:
        from server.redis_server import EmbeddedRedis

        embedded = EmbeddedRedis().start()
        url = embedded.url
    client = redis.Redis.from_url(url)
    try:
        results: dict[str, Figures] = {}
        for name, runner in (
            ("celery", lambda: run_celery(url, args.concurrency, args.jobs, args.serial)),
            ("shim", lambda: run_dramatiq_like("shim", url, args.concurrency, args.jobs, args.serial)),
            ("dramatiq", lambda: run_dramatiq_like("dramatiq", url, args.concurrency, args.jobs, args.serial)),
        ):
            client.flushdb()
            results[name] = runner()
        base = results["celery"]
        print(f"jobs={args.jobs} serial={args.serial} concurrency={args.concurrency} redis={url}")
        print(f"{'system':10} {'jobs/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'thr/celery':>11} {'p50/celery':>11}")
        for name, fig in results.items():
            print(f"{name:10} {fig.throughput:10.0f} {fig.p50_ms:8.2f} {fig.p99_ms:8.2f} "
                  f"{fig.throughput / base.throughput:11.2f} {fig.p50_ms / base.p50_ms:11.2f}")
        shim_fig = results["shim"]
        print(f"target: shim throughput >= 0.95x celery: {shim_fig.throughput / base.throughput:.2f}x; "
              f"shim p50 <= 1.10x celery: {shim_fig.p50_ms / base.p50_ms:.2f}x")
    finally:
        client.close()
        if embedded is not None:
            embedded.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
