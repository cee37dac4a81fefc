"""The shim's RedisBroker on a real Redis and a real in-process Celery worker."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import shim
from shim.brokers.redis import RedisBroker

from .conftest import Env, Impl, make_broker


@pytest.fixture
def redis_env(redis_url: str) -> Iterator[Env]:
    """A shim RedisBroker with a worker on a short visibility timeout."""
    broker = make_broker(Impl("shim"), "redis", redis_url)
    worker = shim.Worker(broker, worker_timeout=100, worker_threads=2)
    worker.start()
    try:
        yield Env(Impl("shim"), "redis", broker, worker)
    finally:
        worker.stop()
        broker.close()


def test_an_actor_declared_before_a_worker_is_a_celery_task_of_its_name_with_its_own_args(redis_url: str) -> None:
    broker = RedisBroker(url=redis_url)
    shim.set_broker(broker)

    @shim.actor(queue_name="inspect_me")
    def noop(x: int, *, y: str = "") -> None:
        return None

    message = noop.send_with_options(args=(1,), kwargs={"y": "z"}, max_retries=2)
    raw = json.loads(redis.Redis.from_url(redis_url).lindex("inspect_me", 0))
    assert raw["headers"]["id"] == message.message_id
    assert raw["headers"]["task"] == "noop"
    assert raw["content-type"] == "application/json"
    assert raw["headers"]["argsrepr"] == "(1,)" and raw["headers"]["kwargsrepr"] == "{'y': 'z'}"
    body = json.loads(base64.b64decode(raw["body"]))
    assert body[0] == [1] and body[1] == {"y": "z"}
    queue, options, timestamp, not_before = raw["headers"]["shim"]
    assert (queue, options, not_before) == ("inspect_me", {"max_retries": 2}, None)
    assert timestamp == message.message_timestamp
    assert "noop" in broker.app.tasks and "shim.dispatch" in broker.app.tasks
    broker.close()


def test_actors_declared_after_the_worker_started_go_through_the_dispatcher(redis_env: Env) -> None:
    broker = redis_env.broker
    seen: list[tuple[Any, ...]] = []

    @shim.actor(max_retries=1, min_backoff=10, max_backoff=10)
    def late(x: int) -> None:
        seen.append((x, shim.middleware.CurrentMessage.get_current_message().message_id))
        if len(seen) == 1:
            raise RuntimeError("first attempt fails, the retry succeeds")

    assert "late" not in broker.named_tasks
    message = late.send(7)
    redis_env.join()
    assert seen == [(7, message.message_id), (7, message.message_id)]
    assert "late" not in broker.app.tasks


def test_a_running_message_can_be_located_by_another_process(redis_env: Env) -> None:
    seen: list[Any] = []

    @shim.actor
    def where_am_i() -> None:
        time.sleep(0.3)

    message = where_am_i.send()
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        info = redis_env.broker.get_running(message.message_id)
        if info is not None:
            seen.append(info)
        time.sleep(0.01)
    redis_env.join()
    assert seen and seen[0].pid == os.getpid() and seen[0].actor_name == "where_am_i"
    assert redis_env.broker.get_running(message.message_id) is None


def test_a_delay_longer_than_one_safe_countdown_hops_until_its_eta(redis_url: str) -> None:
    broker = RedisBroker(url=redis_url, visibility_timeout_s=2)
    shim.set_broker(broker)
    ran_at: list[float] = []

    @shim.actor(time_limit=1000)
    def later() -> None:
        ran_at.append(time.time() * 1000)

    worker = shim.Worker(broker, worker_timeout=100, worker_threads=1)
    worker.start()
    try:
        sent = later.send_with_options(delay=1800)
        broker.join("default", timeout=20_000)
        worker.join()
    finally:
        worker.stop()
        broker.close()
    assert len(ran_at) == 1 and ran_at[0] >= sent.options["eta"] - 5


def test_failed_messages_are_dead_lettered_with_their_options(redis_env: Env) -> None:
    @shim.actor(max_retries=0)
    def fails() -> None:
        raise RuntimeError("dead")

    message = fails.send()
    redis_env.join()
    letters = redis_env.broker.dead_letters("default")
    assert [m.message_id for m in letters] == [message.message_id]
    assert letters[0].options["retries"] == 1
