"""Scenarios run on Dramatiq and on the shim, each on the stub broker and on Redis."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from .conftest import Env

FAST_RETRY = {"min_backoff": 10, "max_backoff": 50}


def test_a_sent_message_runs_and_its_result_is_stored(env: Env) -> None:
    @env.dq.actor(store_results=True)
    def add(x: int, y: int) -> int:
        return x + y

    message = add.send(1, 2)
    env.join()
    assert message.get_result(block=True, timeout=5000) == 3
    assert add(2, 3) == 5
    assert str(add) == "Actor(add)"
    assert repr(add).startswith("Actor(<function") and "queue_name='default', actor_name='add')" in repr(add)


def test_an_async_actor_runs_on_the_event_loop_thread(env: Env) -> None:
    threads: list[str] = []

    @env.dq.actor(store_results=True)
    async def slow_double(x: int) -> int:
        await asyncio.sleep(0.01)
        threads.append(threading.current_thread().name)
        return 2 * x

    messages = [slow_double.send(i) for i in range(4)]
    env.join()
    assert [m.get_result(block=True, timeout=5000) for m in messages] == [0, 2, 4, 6]
    assert len(set(threads)) == 1


def test_a_failing_actor_is_retried_max_retries_times_then_its_failure_is_stored(env: Env) -> None:
    attempts: list[int] = []

    @env.dq.actor(store_results=True, max_retries=2, **FAST_RETRY)
    def flaky() -> None:
        attempts.append(1)
        raise ValueError("boom")

    message = flaky.send()
    env.join()
    assert len(attempts) == 3
    with pytest.raises(env.impl.mod("results").ResultFailure) as info:
        message.get_result(block=True, timeout=5000)
    assert str(info.value) == "actor raised ValueError: boom"
    assert (info.value.orig_exc_type, info.value.orig_exc_msg) == ("ValueError", "boom")
    assert env.dead_letter_count() == 1


def test_retry_when_and_throws_decide_whether_a_message_is_retried(env: Env) -> None:
    seen: list[tuple[str, int]] = []

    def retry_twice(retries: int, exception: BaseException) -> bool:
        seen.append(("predicate", retries))
        return retries < 2 and isinstance(exception, KeyError)

    @env.dq.actor(retry_when=retry_twice, **FAST_RETRY)
    def predicate_driven() -> None:
        seen.append(("run", 0))
        raise KeyError("k")

    @env.dq.actor(throws=(LookupError,), max_retries=5, **FAST_RETRY)
    def throwing() -> None:
        seen.append(("throws", 0))
        raise IndexError("never retried")

    predicate_driven.send()
    throwing.send()
    env.join()
    assert sorted(seen) == sorted(
        [("run", 0)] * 3 + [("predicate", 0), ("predicate", 1), ("predicate", 2), ("throws", 0)]
    )


def test_retry_with_a_delay_retries_and_counts_retries_in_options(env: Env) -> None:
    retries_seen: list[int] = []
    cm = env.impl.mod("middleware").CurrentMessage

    @env.dq.actor(max_retries=3)
    def asks_for_retry() -> None:
        retries_seen.append(cm.get_current_message().options.get("retries", 0))
        if len(retries_seen) < 3:
            raise env.dq.Retry("again", delay=20)

    asks_for_retry.send()
    env.join()
    assert retries_seen == [0, 1, 2]


def test_on_retry_exhausted_receives_the_message_and_the_retry_counts(env: Env) -> None:
    received: list[Any] = []

    @env.dq.actor
    def exhausted(message_data: dict[str, Any], counts: dict[str, int]) -> None:
        received.append((message_data["actor_name"], message_data["args"], counts))

    @env.dq.actor(max_retries=1, on_retry_exhausted="exhausted", **FAST_RETRY)
    def always_fails(x: int) -> None:
        raise RuntimeError("no")

    always_fails.send(7)
    env.join()
    assert received == [("always_fails", [7], {"retries": 1, "max_retries": 1})]


def test_success_and_failure_callbacks_receive_the_message_and_the_outcome(env: Env) -> None:
    outcomes: list[Any] = []

    @env.dq.actor
    def on_ok(message_data: dict[str, Any], result: Any) -> None:
        outcomes.append(("ok", message_data["args"], result))

    @env.dq.actor
    def on_bad(message_data: dict[str, Any], failure: dict[str, str]) -> None:
        outcomes.append(("bad", message_data["args"], failure))

    @env.dq.actor(max_retries=0)
    def divide(x: int, y: int) -> float:
        return x / y

    divide.send_with_options(args=(6, 3), on_success=on_ok, on_failure=on_bad)
    divide.send_with_options(args=(1, 0), on_success="on_ok", on_failure="on_bad")
    env.join()
    assert sorted(outcomes, key=repr) == sorted(
        [("ok", [6, 3], 2.0), ("bad", [1, 0], {"type": "ZeroDivisionError", "message": "division by zero"})],
        key=repr,
    )


def test_a_pipeline_appends_each_result_unless_pipe_ignore_is_set(env: Env) -> None:
    @env.dq.actor(store_results=True)
    def add(x: int, y: int = 0) -> int:
        return x + y

    pipe = add.message(1, 2) | add.message(10) | add.message_with_options(args=(100,), pipe_ignore=True)
    assert len(pipe) == 3
    pipe.run()
    env.join()
    assert list(pipe.get_results(block=True, timeout=5000)) == [3, 13, 100]
    assert pipe.get_result(block=True) == 100
    assert pipe.completed and pipe.completed_count == 3


def test_a_group_collects_results_in_order_and_runs_its_completion_callback(env: Env) -> None:
    finished: list[str] = []

    @env.dq.actor(store_results=True)
    def square(x: int) -> int:
        return x * x

    @env.dq.actor
    def all_done(label: str) -> None:
        finished.append(label)

    grp = env.dq.group([square.message(i) for i in range(5)] + [square.message(2) | square.message()])
    grp.add_completion_callback(all_done.message("done"))
    grp.run()
    grp.wait(timeout=10_000)
    env.join()
    assert list(grp.get_results(block=True)) == [0, 1, 4, 9, 16, 16]
    assert grp.completed and len(grp) == 6
    assert finished == ["done"]


def test_a_time_limit_interrupts_sync_and_async_actors(env: Env) -> None:
    events: list[str] = []
    exceeded = env.impl.mod("middleware").TimeLimitExceeded

    @env.dq.actor(time_limit=200, max_retries=0, store_results=True)
    def spins() -> None:
        try:
            for _ in range(1000):
                time.sleep(0.01)
        except exceeded:
            events.append("sync interrupted")
            raise

    @env.dq.actor(time_limit=200, max_retries=0, store_results=True)
    async def sleeps() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            events.append("async cancelled")
            raise

    first, second = spins.send(), sleeps.send()
    env.join()
    assert sorted(events) == ["async cancelled", "sync interrupted"]
    for message in (first, second):
        with pytest.raises(env.impl.mod("results").ResultFailure) as info:
            message.get_result(block=True, timeout=5000)
        assert info.value.orig_exc_type == "TimeLimitExceeded"


def test_a_delayed_message_shows_the_delay_queue_and_eta_and_runs_later(env: Env) -> None:
    ran_at: list[float] = []

    @env.dq.actor
    def stamp() -> None:
        ran_at.append(time.time() * 1000)

    sent = stamp.send_with_options(delay=300)
    assert sent.queue_name == "default.DQ"
    assert sent.options["eta"] > time.time() * 1000 + 200
    env.join()
    assert len(ran_at) == 1 and ran_at[0] >= sent.options["eta"] - 5


def test_current_message_is_visible_inside_sync_and_async_actors(env: Env) -> None:
    cm = env.impl.mod("middleware").CurrentMessage
    ids: list[str] = []

    @env.dq.actor
    def sync_probe() -> None:
        ids.append(cm.get_current_message().message_id)

    @env.dq.actor
    async def async_probe() -> None:
        ids.append(cm.get_current_message().message_id)

    sent = [sync_probe.send(), async_probe.send()]
    env.join()
    assert sorted(ids) == sorted(m.message_id for m in sent)
    assert cm.get_current_message() is None


def test_an_expired_message_is_skipped_and_its_age_failure_stored(env: Env) -> None:
    ran: list[int] = []

    @env.dq.actor(store_results=True, max_age=1000)
    def fresh_only() -> None:
        ran.append(1)

    old = fresh_only.message().copy(message_timestamp=int(time.time() * 1000) - 5000)
    env.broker.enqueue(old)
    env.join()
    assert ran == []
    with pytest.raises(env.impl.mod("results").ResultFailure) as info:
        old.get_result(block=True, timeout=5000)
    assert str(info.value) == "actor raised SkipMessage: Message age limit exceeded"


def test_an_actor_declared_after_the_worker_started_still_runs(env: Env) -> None:
    @env.dq.actor(queue_name="late_queue", store_results=True)
    def late() -> str:
        return "late"

    message = late.send()
    env.join("late_queue")
    assert message.get_result(block=True, timeout=5000) == "late"


def test_middleware_hooks_fire_in_dramatiq_order_and_skip_message_skips(env: Env) -> None:
    mw = env.impl.mod("middleware")
    hooks: list[str] = []

    class Recorder(mw.Middleware):  # type: ignore[misc, name-defined]
        def before_process_message(self, broker: Any, message: Any) -> None:
            hooks.append(f"before:{message.args[0]}")
            if message.args[0] == "skip":
                raise mw.SkipMessage("skipped by recorder")

        def after_process_message(
            self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
        ) -> None:
            hooks.append(f"after:{message.args[0]}:{result}")

        def after_skip_message(self, broker: Any, message: Any) -> None:
            hooks.append(f"skipped:{message.args[0]}")

        def after_ack(self, broker: Any, message: Any) -> None:
            hooks.append(f"ack:{message.args[0]}")

    env.broker.add_middleware(Recorder())

    @env.dq.actor(store_results=True)
    def echo(value: str) -> str:
        hooks.append(f"run:{value}")
        return value

    echo.send("skip")
    env.join()
    echo.send("go")
    env.join()
    assert hooks == ["before:skip", "skipped:skip", "ack:skip", "before:go", "run:go", "after:go:go", "ack:go"]


def test_a_class_based_actor_runs_with_its_meta_options(env: Env) -> None:
    calls: list[int] = []

    class Base(env.dq.GenericActor):  # type: ignore[misc, name-defined]
        class Meta:
            abstract = True
            queue_name = "generic"
            max_retries = 1
            min_backoff = 10
            max_backoff = 20
            store_results = True

        def perform(self, x: int) -> int:
            calls.append(x)
            if x < 0:
                raise ValueError("negative")
            return x * 10

    class Times(Base):
        pass

    ok, bad = Times.send(4), Times.send(-1)
    env.join("generic")
    assert ok.get_result(block=True, timeout=5000) == 40
    with pytest.raises(env.impl.mod("results").ResultFailure):
        bad.get_result(block=True, timeout=5000)
    assert sorted(calls) == [-1, -1, 4]
    assert Times.queue_name == "generic" and Times.actor_name == "Times"
