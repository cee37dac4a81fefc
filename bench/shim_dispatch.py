"""Dispatch overhead of the shim vs a plain Celery task vs plain Dramatiq, on one Redis.

Each system runs its worker in this process with the same concurrency (thread pool) and
no-op jobs. Measured per run: burst throughput over ``--jobs`` jobs and enqueue->start
latency p50/p99 over ``--serial`` one-at-a-time jobs.

The systems are interleaved over ``--rounds`` rounds (the order rotates each round), and
every ratio to plain Celery is taken inside one round, then the median over rounds is
printed, so a burst of load from other processes skews one round, not one system.

    .venv/bin/python bench/shim_dispatch.py [--jobs 5000] [--serial 300] [--rounds 5]
        [--concurrency 4] [--redis-url redis://127.0.0.1:6379/4] [--events]

The shim's actor is declared before its worker starts, so it runs as a Celery task of its own
name (as ``train_model`` does). ``--events`` turns Celery task and heartbeat events on for both
Celery workers (as ``mlw worker`` does by default); Dramatiq has none.
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
    cpu_us: float  # this process's CPU time (every thread) per job of the burst


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
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(jobs):
        send(0.0)
    if not rec.done.wait(600):
        raise RuntimeError(f"only {rec.count} of {jobs} jobs finished")
    throughput = jobs / (time.perf_counter() - start)
    cpu_us = (time.process_time() - cpu_start) / jobs * 1e6
    rec.latencies.clear()
    for _ in range(serial):
        rec.expect(1)
        send(time.time())
        rec.done.wait(30)
    ordered = sorted(rec.latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return Figures(throughput, statistics.median(ordered), p99, cpu_us)


def run_celery(url: str, concurrency: int, jobs: int, serial: int, events: bool) -> Figures:
    from celery import Celery

    from shim.brokers.celery_app import celery_config

    rec = Recorder()
    app = Celery("bench-plain", set_as_current=False)
    app.conf.update(celery_config(url, 3600, events=events))

    @app.task(name="bench.noop", shared=False, acks_late=True, reject_on_worker_lost=True, ignore_result=True)  # type: ignore[untyped-decorator]
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
                            concurrency=concurrency, queues=["default"], loglevel="WARNING",
                            without_heartbeat=not events, without_mingle=True, without_gossip=True)
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


def run_dramatiq_like(module: str, url: str, concurrency: int, jobs: int, serial: int, events: bool) -> Figures:
    import importlib

    dq = importlib.import_module(module)
    options = {"events": events} if module == "shim" else {}
    broker = importlib.import_module(f"{module}.brokers.redis").RedisBroker(url=url, **options)
    dq.set_broker(broker)
    rec = Recorder()

    @dq.actor(actor_name=f"noop_{uuid.uuid4().hex[:6]}")  # type: ignore[untyped-decorator]
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


SYSTEMS = ("celery", "shim", "dramatiq")


def round_order(round_index: int) -> list[str]:
    """The systems' order in a round: rotated, so in three rounds each system runs once in each slot."""
    shift = round_index % len(SYSTEMS)
    return list(SYSTEMS[shift:] + SYSTEMS[:shift])


def run_system(name: str, url: str, args: argparse.Namespace) -> Figures:
    if name == "celery":
        return run_celery(url, args.concurrency, args.jobs, args.serial, args.events)
    return run_dramatiq_like(name, url, args.concurrency, args.jobs, args.serial, args.events)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


HEADER = (f"{'system':10} {'jobs/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'cpu us/job':>10} "
          f"{'thr/celery':>10} {'p50/celery':>10} {'cpu/celery':>10}")


def row(name: str, fig: Figures, ratios: tuple[float, float, float]) -> str:
    return (f"{name:10} {fig.throughput:8.0f} {fig.p50_ms:7.2f} {fig.p99_ms:7.2f} {fig.cpu_us:10.0f} "
            f"{ratios[0]:10.2f} {ratios[1]:10.2f} {ratios[2]:10.2f}")


def ratios_to(base: Figures, fig: Figures) -> tuple[float, float, float]:
    return fig.throughput / base.throughput, fig.p50_ms / base.p50_ms, fig.cpu_us / base.cpu_us


def report(rounds: list[dict[str, Figures]], args: argparse.Namespace, url: str) -> None:
    print(f"jobs={args.jobs} serial={args.serial} rounds={args.rounds} concurrency={args.concurrency} "
          f"events={'on' if args.events else 'off'} redis={url}")
    print(f"{'round':>5} {HEADER}")
    for index, results in enumerate(rounds, 1):
        for name in SYSTEMS:
            print(f"{index:5d} {row(name, results[name], ratios_to(results['celery'], results[name]))}")
    print("median over rounds (each ratio taken within its round, then the median of the ratios):")
    print(HEADER)
    shim_ratios = (0.0, 0.0, 0.0)
    for name in SYSTEMS:
        fig = Figures(*(statistics.median(getattr(r[name], f) for r in rounds)
                        for f in ("throughput", "p50_ms", "p99_ms", "cpu_us")))
        per_round = [ratios_to(r["celery"], r[name]) for r in rounds]
        ratios = (statistics.median(x[0] for x in per_round), statistics.median(x[1] for x in per_round),
                  statistics.median(x[2] for x in per_round))
        if name == "shim":
            shim_ratios = ratios
        print(row(name, fig, ratios))
    print(f"target: shim throughput >= 0.95x celery: {shim_ratios[0]:.2f}x; "
          f"shim p50 <= 1.10x celery: {shim_ratios[1]:.2f}x (shim CPU per job: {shim_ratios[2]:.2f}x celery)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=positive, default=5000)
    parser.add_argument("--serial", type=positive, default=300)
    parser.add_argument("--rounds", type=positive, default=5)
    parser.add_argument("--concurrency", type=positive, default=4)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--events", action="store_true", help="Celery task/heartbeat events on (mlw worker's default)")
    args = parser.parse_args(argv)
    embedded = None
    url = args.redis_url
    if not url:
        from server.redis_server import EmbeddedRedis

        embedded = EmbeddedRedis().start()
        url = embedded.url
    client = redis.Redis.from_url(url)
    try:
        rounds: list[dict[str, Figures]] = []
        for index in range(args.rounds):
            results: dict[str, Figures] = {}
            for name in round_order(index):
                client.flushdb()
                results[name] = run_system(name, url, args)
            rounds.append(results)
        report(rounds, args, url)
    finally:
        client.close()
        if embedded is not None:
            embedded.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
