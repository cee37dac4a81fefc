"""WorkerContext: one object per worker process, handed to ``context=True`` actors as their first argument."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import shim
from shim.brokers.redis import RedisBroker
from shim.brokers.stub import StubBroker
from shim.middleware import AsyncIO, WorkerContext


class Booted:
    """The context the tests' factory builds: which worker booted it, and the calls it saw."""

    def __init__(self, worker: shim.Worker) -> None:
        self.worker = worker
        self.calls: list[tuple[Any, ...]] = []
        self.done = threading.Event()


@pytest.fixture(params=["stub", "redis"])
def broker(request: pytest.FixtureRequest) -> Iterator[shim.Broker]:
    made: shim.Broker = (
        StubBroker() if request.param == "stub" else RedisBroker(url=request.getfixturevalue("redis_url"))
    )
    made.add_middleware(AsyncIO())
    made.add_middleware(WorkerContext(Booted))
    yield made
    made.close()


def test_an_actor_declared_with_context_gets_the_booted_workers_context_first(broker: shim.Broker) -> None:
    @shim.actor(broker=broker, context=True)
    async def record(ctx: Booted, name: str, *, times: int) -> None:
        ctx.calls.append((name, times))
        ctx.done.set()

    worker = shim.Worker(broker, worker_timeout=100, worker_threads=1)
    worker.start()
    try:
        message = record.send("a", times=2)
        assert message.args == ("a",), "the message carries only the actor's own arguments"
        middleware = next(item for item in broker.middleware if isinstance(item, WorkerContext))
        ctx = middleware.current()
        assert ctx.done.wait(30)
        assert ctx.calls == [("a", 2)]
        assert ctx.worker is worker
        assert worker.replaceable is False, "an in-process worker is nothing a pool would replace"
    finally:
        worker.stop()


def test_an_actor_without_the_option_gets_no_context(broker: shim.Broker) -> None:
    seen: list[tuple[Any, ...]] = []
    done = threading.Event()

    @shim.actor(broker=broker)
    def plain(*args: Any) -> None:
        seen.append(args)
        done.set()

    worker = shim.Worker(broker, worker_timeout=100, worker_threads=1)
    worker.start()
    try:
        plain.send(1, 2)
        assert done.wait(30)
        assert seen == [(1, 2)]
    finally:
        worker.stop()


def test_a_context_actor_called_outside_a_booted_worker_says_so() -> None:
    broker = StubBroker()
    broker.add_middleware(WorkerContext(Booted))

    @shim.actor(broker=broker, context=True)
    def needs_context(ctx: Booted) -> None:
        raise AssertionError("not reached")

    with pytest.raises(RuntimeError, match="no worker context in this process"):
        needs_context()


def test_the_context_option_needs_the_middleware() -> None:
    broker = StubBroker()
    with pytest.raises(ValueError, match="context"):
        shim.actor(broker=broker, context=True)(lambda ctx: None)
