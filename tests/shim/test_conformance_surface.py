"""The rest of Dramatiq's public surface, on Dramatiq and on the shim (stub broker and Redis/Celery).

Pause/resume, priority within a queue, the consumer interface, the warnings Dramatiq logs,
the queue whitelist, message-proxy repr and the worker attributes Dramatiq users read.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from .conftest import Env, Impl, make_broker


@pytest.fixture(params=["stub", "redis"])
def bare(request: pytest.FixtureRequest, impl: Impl) -> tuple[Impl, str, str | None]:
    """The implementation, the broker kind and the Redis URL (for scenarios that build their own)."""
    kind = request.param
    return impl, kind, request.getfixturevalue("redis_url") if kind == "redis" else None


def _broker(impl: Impl, kind: str, redis_url: str | None, *, results: bool = True) -> Any:
    if results:
        return make_broker(impl, kind, redis_url)
    broker = impl.mod("brokers.stub").StubBroker() if kind == "stub" else impl.mod("brokers.redis").RedisBroker(
        url=redis_url
    )
    broker.emit_after("process_boot")
    impl.dq.set_broker(broker)
    return broker


def _join(broker: Any, kind: str, queue: str = "default") -> None:
    if kind == "stub":
        broker.join(queue, fail_fast=False, timeout=30_000)
    else:
        broker.join(queue, timeout=30_000)


def test_worker_exposes_dramatiqs_prefetch_attributes(impl: Impl) -> None:
    worker_mod = impl.mod("worker")
    assert worker_mod.QUEUE_PREFETCH == 0 and worker_mod.DELAY_QUEUE_PREFETCH == 0
    broker = impl.mod("brokers.stub").StubBroker()
    worker = impl.dq.Worker(broker, worker_threads=3, worker_timeout=50, queues={"a"})
    assert (worker.queue_prefetch, worker.delay_prefetch) == (6, 3000)
    assert (worker.worker_threads, worker.worker_timeout, worker.consumer_whitelist) == (3, 50, {"a"})
    assert impl.dq.Worker(broker).consumer_whitelist is None
    broker.close()


def test_message_proxies_repr_str_and_order_like_their_messages(impl: Impl) -> None:
    message_cls = impl.mod("message").Message
    first = message_cls(queue_name="q", actor_name="a", args=(1,), kwargs={}, options={}, message_timestamp=1)
    second = message_cls(queue_name="q", actor_name="a", args=(2,), kwargs={}, options={}, message_timestamp=2)
    proxy = impl.dq.MessageProxy(first)
    assert repr(proxy) == f"<MessageProxy {first!r}>"
    assert str(proxy) == "a(1)"
    with pytest.warns(DeprecationWarning, match="Comparing MessageProxy instances by order"):
        assert proxy < impl.dq.MessageProxy(second)
    assert proxy == first


def test_the_stub_consumer_yields_acks_and_nacks_and_refuses_undeclared_queues(impl: Impl) -> None:
    broker = impl.mod("brokers.stub").StubBroker()
    impl.dq.set_broker(broker)

    @impl.dq.actor(queue_name="consumed")
    def job(x: int) -> None:
        return None

    with pytest.raises(impl.dq.QueueNotFound):
        broker.consume("never-declared")
    job.send(1)
    job.send(2)
    consumer = broker.consume("consumed", prefetch=1, timeout=50)
    first = next(consumer)
    assert first is not None and first.args == (1,) and isinstance(first, impl.dq.MessageProxy)
    assert next(consumer) is None, "prefetch 1: nothing more until the first is settled"
    consumer.ack(first)
    second = next(consumer)
    assert second is not None and second.args == (2,)
    consumer.nack(second)
    assert next(consumer) is None
    assert [m.args for m in broker.dead_letters_by_queue["consumed"]] == [(2,)]
    broker.join("consumed", fail_fast=False, timeout=1000)
    consumer.close()
    broker.close()


def test_pause_holds_messages_until_resume(bare: tuple[Impl, str, str | None]) -> None:
    impl, kind, url = bare
    broker = _broker(impl, kind, url)
    ran: list[int] = []

    @impl.dq.actor
    def note(x: int) -> None:
        ran.append(x)

    worker = impl.dq.Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        note.send(1)
        _join(broker, kind)
        worker.join()
        worker.pause()
        note.send(2)
        time.sleep(0.5)
        assert ran == [1], "a paused worker takes no message"
        worker.resume()
        _join(broker, kind)
        worker.join()
        assert ran == [1, 2]
    finally:
        worker.stop()
        broker.close()


def test_a_lower_priority_runs_first_among_waiting_messages(bare: tuple[Impl, str, str | None]) -> None:
    impl, kind, url = bare
    broker = _broker(impl, kind, url)
    order: list[str] = []
    started, release = threading.Event(), threading.Event()

    @impl.dq.actor(priority=0)
    def blocker() -> None:
        started.set()
        release.wait(20)

    @impl.dq.actor(priority=100)
    def later() -> None:
        order.append("later")

    @impl.dq.actor(priority=0)
    def sooner() -> None:
        order.append("sooner")

    worker = impl.dq.Worker(broker, worker_timeout=50, worker_threads=1)
    worker.queue_prefetch = 10  # Dramatiq orders the messages its consumer holds: let it hold them all
    worker.start()
    try:
        blocker.send()
        assert started.wait(20)
        later.send()
        later.send()
        sooner.send()
        time.sleep(0.5)  # Dramatiq's consumer fetches them meanwhile; on Celery they wait in Redis
        release.set()
        _join(broker, kind)
        worker.join()
        assert order == ["sooner", "later", "later"]
    finally:
        release.set()
        worker.stop()
        broker.close()


def test_a_worker_with_a_queue_whitelist_consumes_no_other_queue(bare: tuple[Impl, str, str | None]) -> None:
    impl, kind, url = bare
    broker = _broker(impl, kind, url)
    ran: list[str] = []

    @impl.dq.actor(queue_name="wanted")
    def wanted() -> None:
        ran.append("wanted")

    @impl.dq.actor(queue_name="other")
    def other() -> None:
        ran.append("other")

    worker = impl.dq.Worker(broker, worker_timeout=50, worker_threads=2, queues={"wanted"})
    worker.start()
    try:
        other.send()
        wanted.send()
        _join(broker, kind, "wanted")
        worker.join()
        time.sleep(0.5)
        assert ran == ["wanted"]
    finally:
        worker.stop()
        if kind == "stub":
            broker.flush_all()
        else:
            broker.flush("other")
        broker.close()


def test_a_returned_value_without_the_results_middleware_is_warned_about(
    bare: tuple[Impl, str, str | None], caplog: pytest.LogCaptureFixture
) -> None:
    impl, kind, url = bare
    broker = _broker(impl, kind, url, results=False)

    @impl.dq.actor
    def answer() -> int:
        return 42

    @impl.dq.actor
    def quiet() -> None:
        return None

    worker = impl.dq.Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        with caplog.at_level(logging.WARNING):
            quiet.send()
            _join(broker, kind)
            worker.join()
            assert "Results middleware" not in caplog.text
            answer.send()
            _join(broker, kind)
            worker.join()
        assert "Actor 'answer' returned a value that is not None, and you haven't added the Results" in caplog.text
    finally:
        worker.stop()
        broker.close()


def test_a_non_numeric_eta_is_warned_about_and_the_message_runs_now(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[int] = []

    @env.dq.actor
    def stamped(x: int) -> None:
        ran.append(x)

    with caplog.at_level(logging.WARNING):
        message = stamped.message_with_options(args=(1,), eta="tomorrow")
        env.broker.enqueue(message)
        env.join()
    assert ran == [1]
    assert f"Invalid eta value for message '{message.message_id}': 'tomorrow'" in caplog.text


def test_a_redis_consumer_yields_acks_nacks_and_requeues(impl: Impl, redis_url: str) -> None:
    broker = _broker(impl, "redis", redis_url)

    @impl.dq.actor(queue_name="by_hand")
    def job(x: int) -> None:
        return None

    for x in (1, 2, 3):
        job.send(x)
    consumer = broker.consume("by_hand", prefetch=1, timeout=200)
    first = next(consumer)
    assert first is not None and first.args == (1,) and first.actor_name == "job"
    assert next(consumer) is None, "prefetch 1: nothing more until the first is settled"
    consumer.ack(first)
    second = next(consumer)
    assert second is not None and second.args == (2,)
    consumer.nack(second)
    third = next(consumer)
    assert third is not None and third.args == (3,)
    consumer.requeue([third])
    consumer.close()
    consumer = broker.consume("by_hand", prefetch=1, timeout=200)
    again = next(consumer)
    assert again is not None and (again.args, again.message_id) == ((3,), third.message_id)
    consumer.ack(again)
    assert next(consumer) is None
    consumer.close()
    env = Env(impl, "redis", broker)
    assert env.dead_letter_count("by_hand") == 1
    broker.close()
