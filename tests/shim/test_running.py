"""Running markers: the pure schedule, then the writer on a real Redis."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from server.redis_server import free_port
from shim.brokers.redis import RedisBroker
from shim.brokers.running import EndAction, MarkerSchedule, RunningMarkers


def started(schedule: MarkerSchedule, message_id: str, now: float) -> None:
    schedule.begin(message_id, "actor", {"time_limit": 1_000}, 7, 1_000, now)


def test_a_message_that_ends_before_its_delay_is_never_written() -> None:
    schedule = MarkerSchedule(0.1)
    started(schedule, "m1", now=10.0)
    assert schedule.take_due(10.05) == []
    assert schedule.end("m1") is EndAction.NOTHING
    assert schedule.next_due() is None and schedule.take_due(99.0) == []


def test_markers_fall_due_in_start_order_once_their_delay_has_passed() -> None:
    schedule = MarkerSchedule(0.1)
    started(schedule, "m1", now=10.0)
    started(schedule, "m2", now=10.05)
    assert schedule.next_due() == pytest.approx(10.1)
    assert [m.message_id for m in schedule.take_due(10.12)] == ["m1"]
    assert [m.message_id for m in schedule.take_due(10.2)] == ["m2"]
    assert schedule.take_due(11.0) == []


def test_a_written_marker_is_deleted_when_its_message_ends() -> None:
    schedule = MarkerSchedule(0.1)
    started(schedule, "m1", now=10.0)
    due = schedule.take_due(10.2)
    assert due[0].options == {"time_limit": 1_000} and due[0].thread_id == 7
    assert schedule.finish_writing(["m1"]) == []
    assert schedule.end("m1") is EndAction.DELETE
    assert schedule.end("m1") is EndAction.NOTHING


def test_a_message_ending_while_its_marker_is_written_leaves_the_delete_to_the_writer() -> None:
    schedule = MarkerSchedule(0.1)
    started(schedule, "m1", now=10.0)
    schedule.take_due(10.2)
    assert schedule.end("m1") is EndAction.DEFERRED
    assert schedule.finish_writing(["m1"]) == ["m1"]
    assert schedule.end("m1") is EndAction.NOTHING


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A Redis client on the test database."""
    connection = redis.Redis.from_url(redis_url)
    try:
        yield connection
    finally:
        connection.close()


def test_a_long_message_gets_a_marker_after_the_delay_and_loses_it_when_it_ends(client: redis.Redis) -> None:
    markers = RunningMarkers(client, "t", delay_ms=50, ttl_of=lambda actor, options: options["time_limit"] + 1_000)
    try:
        markers.begin("long", "trainer", {"time_limit": 4_000})
        assert markers.get("long") is None
        deadline = time.monotonic() + 5
        info = None
        while info is None and time.monotonic() < deadline:
            time.sleep(0.01)
            info = markers.get("long")
        assert info is not None
        assert (info.actor_name, info.pid, info.thread_id) == ("trainer", os.getpid(), threading.get_ident())
        ttl_ms: Any = client.pttl(markers.key("long"))
        assert 0 < ttl_ms <= 5_000
        markers.end("long")
        assert markers.get("long") is None
    finally:
        markers.close()


def test_short_messages_leave_no_marker_behind(client: redis.Redis) -> None:
    markers = RunningMarkers(client, "t", delay_ms=30)
    try:
        for index in range(50):
            markers.begin(f"short-{index}", "noop", {})
            markers.end(f"short-{index}")
        time.sleep(0.2)
        assert client.keys("t:running:*") == []
    finally:
        markers.close()


def test_a_zero_delay_writes_the_marker_as_the_message_starts(client: redis.Redis) -> None:
    markers = RunningMarkers(client, "t", delay_ms=0)
    markers.begin("now", "noop", {})
    info = markers.get("now")
    assert info is not None and info.message_id == "now"
    ttl: Any = client.ttl(markers.key("now"))
    assert ttl == -1
    markers.end("now")
    assert markers.get("now") is None


def test_running_markers_can_be_turned_off_and_a_bad_delay_is_named(redis_url: str) -> None:
    broker = RedisBroker(url=redis_url, running_marker_delay_ms=None)
    with pytest.raises(RuntimeError, match="running_marker_delay_ms=None"):
        broker.get_running("any")
    broker.close()
    with pytest.raises(ValueError, match="running_marker_delay_ms"):
        RedisBroker(url=redis_url, running_marker_delay_ms=-1)


def test_a_message_that_ends_while_redis_is_unreachable_still_ends_cleanly(
    client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    markers = RunningMarkers(client, "t", delay_ms=0, ttl_of=lambda actor, options: 60_000)
    markers.begin("m-outage", "fit", {})
    assert markers.get("m-outage") is not None
    dead = redis.Redis(port=free_port(), socket_connect_timeout=0.5)
    markers.client = dead
    try:
        markers.end("m-outage")  # the task already succeeded: this must not raise
    finally:
        dead.close()
        markers.client = client
    assert "Could not delete the running marker of m-outage" in caplog.text
    assert 0 < int(client.pttl(markers.key("m-outage"))) <= 60_000, "the marker is left to expire"
    client.delete(markers.key("m-outage"))
