"""Aborting pending and running messages (shim only: dramatiq-abort is not a dependency)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import shim
from shim.abort import Abort, Abortable, abort, abort_requested
from shim.abort import RedisBackend as AbortRedisBackend
from shim.abort import StubBackend as AbortStubBackend
from shim.brokers.stub import StubBroker
from shim.middleware import AsyncIO
from shim.results import ResultFailure

from .conftest import Env, Impl, make_broker


@pytest.fixture(params=["stub", "redis"])
def abort_env(request: pytest.FixtureRequest) -> Iterator[Env]:
    """A shim broker with the Abortable middleware and a running worker."""
    kind = request.param
    redis_url = request.getfixturevalue("redis_url") if kind == "redis" else None
    broker = make_broker(Impl("shim"), kind, redis_url)
    backend: Any = AbortStubBackend()
    if redis_url is not None:
        backend = AbortRedisBackend(client=redis.Redis.from_url(redis_url))
    broker.add_middleware(Abortable(backend=backend))
    worker = shim.Worker(broker, worker_timeout=100, worker_threads=2)
    worker.start()
    try:
        yield Env(Impl("shim"), kind, broker, worker)
    finally:
        worker.stop()
        broker.close()


def _wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_a_pending_message_is_skipped_and_never_retried(abort_env: Env) -> None:
    ran: list[int] = []

    @shim.actor(max_retries=3)
    def never_runs() -> None:
        ran.append(1)

    message = never_runs.send_with_options(delay=300)
    abort(message.message_id, mode="cancel")
    abort_env.join()
    assert ran == []
    assert abort_env.dead_letter_count() == 1


def test_a_running_actor_sees_the_request_then_is_interrupted_after_the_timeout(abort_env: Env) -> None:
    events: list[str] = []

    @shim.actor(max_retries=3, store_results=True)
    def cooperative_until_timeout() -> None:
        events.append("started")
        try:
            while True:
                if abort_requested() is not None and "noticed" not in events:
                    events.append("noticed")
                time.sleep(0.005)
        except Abort:
            events.append("interrupted")
            raise

    message = cooperative_until_timeout.send()
    _wait_for(lambda: "started" in events)
    abort(message.message_id, abort_timeout=300)
    abort_env.join()
    assert events == ["started", "noticed", "interrupted"]
    with pytest.raises(ResultFailure, match="actor raised Abort"):
        message.get_result(block=True, timeout=5000)


def test_an_abort_cancels_a_running_coroutine(abort_env: Env) -> None:
    events: list[str] = []

    @shim.actor(max_retries=2)
    async def sleeper() -> None:
        events.append("started")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    message = sleeper.send()
    _wait_for(lambda: "started" in events)
    abort(message.message_id)
    abort_env.join()
    assert events == ["started", "cancelled"]


def test_cancel_mode_leaves_a_running_message_alone(abort_env: Env) -> None:
    events: list[str] = []

    @shim.actor
    def finishes() -> None:
        events.append("started")
        time.sleep(0.3)
        events.append(f"finished:{abort_requested()}")

    message = finishes.send()
    _wait_for(lambda: "started" in events)
    abort(message.message_id, mode="cancel")
    abort_env.join()
    assert events == ["started", "finished:None"]


def test_abort_rejects_bad_arguments_naming_them(abort_env: Env) -> None:
    with pytest.raises(ValueError, match="mode"):
        abort("x", mode="explode")
    with pytest.raises(ValueError, match="abort_timeout"):
        abort("x", abort_timeout=-1)
    bare = StubBroker(middleware=[AsyncIO()])
    with pytest.raises(RuntimeError, match="Abortable"):
        abort("x", broker=bare)
