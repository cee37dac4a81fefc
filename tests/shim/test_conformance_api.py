"""API-surface scenarios (no worker) run on Dramatiq and on the shim."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from .conftest import Env, Impl


def test_actor_declaration_validates_queue_names_options_and_duplicates(stub_env: Env) -> None:
    dq = stub_env.dq

    def fn() -> None:
        return None

    with pytest.raises(ValueError, match="Queue names must start with a letter or an underscore"):
        dq.actor(queue_name="1bad")(fn)
    with pytest.raises(ValueError, match="The following actor options are undefined: nonsense"):
        dq.actor(nonsense=True)(fn)
    first = dq.actor(actor_name="named", queue_name="q.one-_x", priority=5)(fn)
    assert (first.actor_name, first.queue_name, first.priority) == ("named", "q.one-_x", 5)
    with pytest.raises(ValueError, match=r"An actor named 'named' is already registered\."):
        dq.actor(actor_name="named")(fn)
    with pytest.raises(TypeError, match=r"on_success value must be an Actor"):
        first.message_with_options(on_success=42)
    assert stub_env.broker.get_actor("named") is first
    with pytest.raises(dq.ActorNotFound):
        stub_env.broker.get_actor("missing")
    assert {"named"} <= stub_env.broker.get_declared_actors()
    assert "q.one-_x" in stub_env.broker.get_declared_queues()
    assert "q.one-_x.DQ" in stub_env.broker.get_declared_delay_queues()


def test_a_custom_actor_class_is_used_by_the_decorator(stub_env: Env) -> None:
    dq = stub_env.dq

    class Tagged(dq.Actor):  # type: ignore[misc, name-defined]
        tag = "custom"

    @dq.actor(actor_class=Tagged)
    def tagged() -> None:
        return None

    assert isinstance(tagged, Tagged) and tagged.tag == "custom"


def test_a_message_is_a_frozen_dataclass_with_namedtuple_methods(impl: Impl) -> None:
    message_cls = impl.mod("message").Message
    message = message_cls(queue_name="q", actor_name="a", args=[1, 2], kwargs={"k": "v"}, options={"o": 1})
    assert message.args == (1, 2)
    assert str(message) == "a(1, 2, k='v')"
    assert message._fields == (
        "queue_name", "actor_name", "args", "kwargs", "options", "message_id", "message_timestamp",
    )
    assert message.asdict()["options"] is message.options
    assert message._asdict() == message.asdict()
    assert message_cls.decode(message.encode()) == message
    copy = message.copy(queue_name="q2", options={"extra": True})
    assert (copy.queue_name, copy.options, copy.message_id) == ("q2", {"o": 1, "extra": True}, message.message_id)
    assert message._replace(actor_name="b").actor_name == "b"
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.queue_name = "x"
    with pytest.raises(impl.dq.DecodeError, match=r"Failed to decode message\."):
        message_cls.decode(b"\xff not json")
    assert message.message_datetime.tzinfo is not None


def test_broker_middleware_can_be_placed_before_or_after_another(stub_env: Env) -> None:
    mw = stub_env.impl.mod("middleware")
    broker = stub_env.broker

    class First(mw.Middleware):  # type: ignore[misc, name-defined]
        pass

    class Second(mw.Middleware):  # type: ignore[misc, name-defined]
        pass

    names = [type(m).__name__ for m in broker.middleware]
    assert names[:6] == ["AgeLimit", "TimeLimit", "ShutdownNotifications", "Callbacks", "Pipelines", "Retries"]
    broker.add_middleware(First(), before=mw.Callbacks)
    broker.add_middleware(Second(), after=mw.Retries)
    names = [type(m).__name__ for m in broker.middleware]
    assert names.index("First") == names.index("Callbacks") - 1
    assert names.index("Second") == names.index("Retries") + 1
    class NeverAdded(mw.Middleware):  # type: ignore[misc, name-defined]
        pass

    with pytest.raises(ValueError, match="not found"):
        broker.add_middleware(First(), before=NeverAdded)


def test_emit_before_propagates_middleware_errors_and_logs_the_rest(stub_env: Env) -> None:
    mw = stub_env.impl.mod("middleware")
    calls: list[str] = []

    class Raises(mw.Middleware):  # type: ignore[misc, name-defined]
        def before_declare_queue(self, broker: Any, queue_name: str) -> None:
            calls.append("raises")
            if queue_name == "stop":
                raise mw.MiddlewareError("stop here")
            raise RuntimeError("only logged")

    stub_env.broker.add_middleware(Raises())
    stub_env.broker.declare_queue("go_on")
    with pytest.raises(mw.MiddlewareError, match="stop here"):
        stub_env.broker.declare_queue("stop")
    assert calls == ["raises", "raises"]


def test_generic_actors_respect_abstract_meta_and_a_custom_registry(stub_env: Env) -> None:
    dq = stub_env.dq
    registered: list[str] = []

    def registry(fn: Any, **options: Any) -> Any:
        registered.append(sorted(options))
        return dq.actor(fn, **options)

    class Abstract(dq.GenericActor):  # type: ignore[misc, name-defined]
        class Meta:
            abstract = True
            queue_name = "generic_q"

    class Concrete(Abstract):
        class Meta:
            actor = registry
            max_retries = 3

        def perform(self, x: int) -> int:
            return x + 1

    assert isinstance(Abstract, type)
    assert not isinstance(Concrete, type)
    assert Concrete(1) == 2
    assert Concrete.options == {"max_retries": 3}
    assert registered == [["max_retries"]]
    message = Concrete.message(5)
    assert (message.actor_name, message.args) == ("Concrete", (5,))


def test_the_error_tree_matches_dramatiq(impl: Impl) -> None:
    dq = impl.dq
    errors = impl.mod("errors")
    mw = impl.mod("middleware")
    results = impl.mod("results")
    assert issubclass(dq.ActorNotFound, dq.BrokerError) and issubclass(dq.BrokerError, dq.DramatiqError)
    assert issubclass(dq.QueueNotFound, dq.BrokerError) and issubclass(dq.ConnectionClosed, dq.BrokerConnectionError)
    assert issubclass(dq.Retry, dq.DramatiqError) and issubclass(errors.QueueJoinTimeout, dq.DramatiqError)
    assert issubclass(results.ResultTimeout, results.ResultError) and issubclass(results.ResultError, dq.DramatiqError)
    assert issubclass(mw.SkipMessage, mw.MiddlewareError) and not issubclass(mw.MiddlewareError, dq.DramatiqError)
    assert issubclass(mw.TimeLimitExceeded, mw.Interrupt) and not issubclass(mw.Interrupt, Exception)
    retry = dq.Retry("later", delay=250)
    assert (str(retry), retry.delay, str(dq.Retry())) == ("later", 250, "''")


def test_stub_join_times_out_and_fail_fast_reraises_the_actor_error(stub_env: Env) -> None:
    dq = stub_env.dq

    @dq.actor(max_retries=0)
    def explode() -> None:
        raise KeyError("kaboom")

    explode.send()
    with pytest.raises(dq.QueueJoinTimeout):
        stub_env.broker.join("default", timeout=100)
    worker = dq.Worker(stub_env.broker, worker_timeout=100)
    worker.start()
    try:
        with pytest.raises(KeyError, match="kaboom"):
            stub_env.broker.join("default", timeout=10_000)
        assert len(stub_env.broker.dead_letters) == 1
    finally:
        worker.stop()
    stub_env.broker.flush_all()
    assert stub_env.broker.dead_letters == []
    with pytest.raises(dq.QueueNotFound):
        stub_env.broker.join("nope")


def test_hooks_follow_the_middleware_list_as_it_changes(stub_env: Env) -> None:
    mw = stub_env.impl.mod("middleware")
    broker = stub_env.broker
    seen: list[tuple[str, str]] = []
    broker.declare_queue("first")

    class Late(mw.Middleware):  # type: ignore[misc, name-defined]
        def after_declare_queue(self, broker: Any, queue_name: str) -> None:
            seen.append(("class", queue_name))

    late = Late()
    broker.add_middleware(late)
    seen.clear()
    broker.declare_queue("second")
    plain = mw.Middleware()
    plain.before_declare_queue = lambda broker, queue_name: seen.append(("instance", queue_name))
    broker.middleware.append(plain)
    broker.declare_queue("third")
    broker.middleware.remove(late)
    broker.declare_queue("fourth")
    assert seen == [("class", "second"), ("instance", "third"), ("class", "third"), ("instance", "fourth")]
