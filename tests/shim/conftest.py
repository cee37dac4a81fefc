"""Fixtures running the same scenarios against real Dramatiq and against the shim.

``env`` yields a :class:`Env` for every pairing of implementation (``dramatiq``, ``shim``)
and broker (in-memory stub, Redis); the Redis pairing of the shim runs a real Celery
worker in this process.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest


@dataclass
class Impl:
    """One implementation of Dramatiq's API, addressed by module path."""

    name: str

    def mod(self, path: str = "") -> ModuleType:
        """Import ``<impl>.<path>`` (the package itself for an empty path)."""
        return importlib.import_module(f"{self.name}.{path}" if path else self.name)

    @property
    def dq(self) -> ModuleType:
        return self.mod()


@dataclass
class Env:
    """A broker with the usual optional middleware and a running worker."""

    impl: Impl
    kind: str
    broker: Any
    worker: Any = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def dq(self) -> ModuleType:
        return self.impl.dq

    def join(self, *queues: str) -> None:
        """Wait until the queues are drained and the worker is idle."""
        for queue in queues or ("default",):
            if self.kind == "stub":
                self.broker.join(queue, fail_fast=False, timeout=30_000)
            else:
                self.broker.join(queue, timeout=30_000)
        self.worker.join()

    def dead_letter_count(self, queue: str = "default") -> int:
        """How many messages of a queue were rejected."""
        if self.kind == "stub":
            return len(self.broker.dead_letters_by_queue[queue])
        if self.impl.name == "shim":
            return len(self.broker.dead_letters(queue))
        return int(self.broker.client.zcard(f"dramatiq:{queue}.XQ"))


@pytest.fixture(params=["dramatiq", "shim"])
def impl(request: pytest.FixtureRequest) -> Impl:
    """The implementation under test."""
    return Impl(request.param)


def make_broker(impl: Impl, kind: str, redis_url: str | None) -> Any:
    """A broker with Results, AsyncIO, CurrentMessage and GroupCallbacks added."""
    mw = impl.mod("middleware")
    if kind == "stub":
        broker = impl.mod("brokers.stub").StubBroker()
        result_backend = impl.mod("results.backends").StubBackend()
        limiter = impl.mod("rate_limits.backends").StubBackend()
    else:
        broker = impl.mod("brokers.redis").RedisBroker(url=redis_url)
        result_backend = impl.mod("results.backends").RedisBackend(url=redis_url)
        limiter = impl.mod("rate_limits.backends").RedisBackend(url=redis_url)
    broker.add_middleware(impl.mod("results").Results(backend=result_backend))
    broker.add_middleware(mw.AsyncIO())
    broker.add_middleware(mw.CurrentMessage())
    broker.add_middleware(mw.GroupCallbacks(limiter))
    broker.emit_after("process_boot")
    impl.dq.set_broker(broker)
    return broker


@pytest.fixture(params=["stub", "redis", "redis-named"])
def env(request: pytest.FixtureRequest, impl: Impl) -> Iterator[Env]:
    """A broker of each kind with a started worker, for each implementation.

    ``redis-named`` (shim only) starts the worker at the first send, so the scenario's actors
    are declared before it and run as Celery tasks of their own names; with ``redis`` they are
    declared after the worker started and run through ``shim.dispatch``.
    """
    kind = request.param
    if kind == "redis-named" and impl.name != "shim":
        pytest.skip("Dramatiq has one Redis path")
    redis_url = request.getfixturevalue("redis_url") if kind != "stub" else None
    broker = make_broker(impl, "stub" if kind == "stub" else "redis", redis_url)
    worker = impl.dq.Worker(broker, worker_timeout=100, worker_threads=4)
    started: list[bool] = []
    if kind == "redis-named":
        send = broker.enqueue

        def enqueue_starting_the_worker(message: Any, *, delay: int | None = None) -> Any:
            if not started:
                started.append(True)
                worker.start()
            return send(message, delay=delay)

        broker.enqueue = enqueue_starting_the_worker
    else:
        worker.start()
        started.append(True)
    try:
        yield Env(impl, "stub" if kind == "stub" else "redis", broker, worker)
    finally:
        if started:
            worker.stop()
        if kind == "stub":
            broker.flush_all()
        broker.close()


@pytest.fixture
def stub_env(impl: Impl) -> Iterator[Env]:
    """A stub broker (no worker started) for each implementation."""
    broker = make_broker(impl, "stub", None)
    try:
        yield Env(impl, "stub", broker)
    finally:
        broker.flush_all()
        broker.close()
