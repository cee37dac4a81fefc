"""The websocket hub against a real aiohttp server, real Redis and a real SQLite database."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.hub import CloseCode
from store.jobs import update_progress
from tests.server.conftest import People
from tests.server.hub_helpers import Jobs, connect, hub_of


async def test_a_subscriber_receives_a_jobs_events_in_seq_order_after_a_snapshot(
    hub_client: TestClient[Any, Any], people: People, jobs: Jobs
) -> None:
    pipeline = await jobs.pipeline(people.alice)
    job_id = await jobs.create(people.alice, pipeline)
    sock = await connect(hub_client, people.alice)

    snapshot = await sock.subscribe([{"job_id": job_id}])

    assert [row["id"] for row in snapshot["jobs"]] == [job_id]
    assert snapshot["jobs"][0]["status"] == "queued"
    assert snapshot["jobs"][0]["last_seq"] == 1
    await jobs.move(people.alice, job_id, "running")
    await jobs.warn(people.alice, job_id, "class imbalance")
    await jobs.move(people.alice, job_id, "succeeded")
    await sock.wait_seq(job_id, 4)
    assert sock.seqs(job_id) == [2, 3, 4]
    assert [(e["type"], e["status"]) for e in sock.events(job_id)] == [
        ("job.status", "running"),
        ("job.warning", "running"),
        ("job.status", "succeeded"),
    ]


@pytest.mark.parametrize("how", ["header", "query", "frame"])
async def test_a_socket_authenticates_by_header_query_token_or_auth_frame(
    hub_client: TestClient[Any, Any], people: People, how: str
) -> None:
    sock = await connect(hub_client, people.bob, how=how)

    assert await sock.sync() == []


async def test_an_unknown_token_is_closed_with_4401(hub_client: TestClient[Any, Any]) -> None:
    ws = await hub_client.ws_connect("/ml-workflow/ws", headers={"Authorization": "Bearer nope"})
    msg = await ws.receive()

    assert ws.close_code == CloseCode.UNAUTHORIZED
    assert "unknown or revoked" in str(msg.extra)


async def test_a_socket_without_token_that_sends_another_frame_first_is_closed_with_4401(
    hub_client: TestClient[Any, Any],
) -> None:
    ws = await hub_client.ws_connect("/ml-workflow/ws")
    await ws.send_json({"op": "ping"})
    msg = await ws.receive()

    assert ws.close_code == CloseCode.UNAUTHORIZED
    assert "auth" in str(msg.extra)


async def test_a_reconnecting_client_receives_exactly_the_events_it_missed(
    hub_client: TestClient[Any, Any], people: People, jobs: Jobs
) -> None:
    pipeline = await jobs.pipeline(people.alice)
    job_id = await jobs.create(people.alice, pipeline)
    first = await connect(hub_client, people.alice)
    await first.subscribe([{"pipeline_id": pipeline[1]}])
    await jobs.move(people.alice, job_id, "running")
    await first.wait_seq(job_id, 2)
    await first.ws.close()

    await jobs.warn(people.alice, job_id, "missed 1")
    await jobs.warn(people.alice, job_id, "missed 2")
    await jobs.move(people.alice, job_id, "succeeded")
    again = await connect(hub_client, people.alice)
    snapshot = await again.subscribe([{"pipeline_id": pipeline[1]}], since={job_id: first.seqs(job_id)[-1]})
    await again.wait_seq(job_id, 5)
    await jobs.create(people.alice, pipeline)  # later traffic must not repeat anything
    await again.sync()

    assert snapshot["jobs"][0]["status"] == "succeeded"
    assert again.seqs(job_id) == [3, 4, 5]
    assert [e.get("message") for e in again.events(job_id)] == ["missed 1", "missed 2", None]


async def test_an_event_committed_but_never_published_is_refilled_from_the_database(
    hub_client: TestClient[Any, Any], people: People, jobs: Jobs
) -> None:
    pipeline = await jobs.pipeline(people.alice)
    job_id = await jobs.create(people.alice, pipeline)
    sock = await connect(hub_client, people.alice)
    await sock.subscribe([{"user": "me"}])

    await jobs.move(people.alice, job_id, "running", publish=False)  # a dropped pub/sub message
    await jobs.warn(people.alice, job_id, "dropped too", publish=False)
    await jobs.move(people.alice, job_id, "succeeded")
    await sock.wait_seq(job_id, 4)
    await sock.sync()

    assert sock.seqs(job_id) == [2, 3, 4]
    assert sock.events(job_id)[1]["message"] == "dropped too"


async def test_a_job_created_after_subscribing_to_its_pipeline_streams_from_seq_1(
    hub_client: TestClient[Any, Any], people: People, jobs: Jobs
) -> None:
    pipeline = await jobs.pipeline(people.alice)
    sock = await connect(hub_client, people.alice)
    snapshot = await sock.subscribe([{"pipeline_id": pipeline[1]}])

    job_id = await jobs.create(people.alice, pipeline)
    await jobs.move(people.alice, job_id, "running")
    await jobs.progress(people.alice, job_id, pipeline[1], 3)
    await jobs.move(people.alice, job_id, "cancelling")
    await sock.wait_seq(job_id, 3)

    assert snapshot["jobs"] == []
    assert [(e["type"], e.get("seq")) for e in sock.events(job_id)] == [
        ("job.status", 1),
        ("job.status", 2),
        ("job.progress", None),
        ("job.status", 3),
    ]


async def test_another_users_socket_never_receives_a_users_events_whatever_it_subscribes_to(
    hub_client: TestClient[Any, Any], people: People, jobs: Jobs
) -> None:
    pipeline = await jobs.pipeline(people.alice)
    job_id = await jobs.create(people.alice, pipeline)
    alice = await connect(hub_client, people.alice)
    await alice.subscribe([{"job_id": job_id}])
    bob = await connect(hub_client, people.bob, how="query")
    topics = [{"job_id": job_id}, {"pipeline_id": pipeline[1]}, {"user": "me"}]

    snapshot = await bob.subscribe(topics, since={job_id: 0})
    await jobs.move(people.alice, job_id, "running")
    await jobs.progress(people.alice, job_id, pipeline[1], 1)
    await jobs.move(people.alice, job_id, "failed", publish=False)
    second = await jobs.create(people.alice, pipeline)
    await jobs.move(people.alice, second, "running")
    await alice.wait_seq(job_id, 2)
    await alice.sync()  # alice has everything, so the fan-out has offered it to bob too

    assert snapshot["jobs"] == []
    assert snapshot["missing"] == [job_id]
    assert await bob.sync() == []
    assert bob.events() == []


async def test_an_admin_may_follow_another_users_job(
    hub_client: TestClient[Any, Any], people: People, jobs: Jobs
) -> None:
    pipeline = await jobs.pipeline(people.alice)
    job_id = await jobs.create(people.alice, pipeline)
    admin = await connect(hub_client, people.admin)

    snapshot = await admin.subscribe([{"job_id": job_id}], since={job_id: 0})
    await jobs.move(people.alice, job_id, "running")
    await admin.wait_seq(job_id, 2)

    assert [row["id"] for row in snapshot["jobs"]] == [job_id]
    assert admin.seqs(job_id) == [1, 2]


async def test_after_unsubscribing_a_socket_receives_no_more_events_of_that_topic(
    hub_client: TestClient[Any, Any], people: People, jobs: Jobs
) -> None:
    pipeline = await jobs.pipeline(people.alice)
    job_id = await jobs.create(people.alice, pipeline)
    sock = await connect(hub_client, people.alice)
    await sock.subscribe([{"job_id": job_id}])

    await sock.send({"op": "unsubscribe", "topics": [{"job_id": job_id}], "ref": 7})
    reply = await sock.until(lambda f: f["type"] == "unsubscribed")
    await jobs.move(people.alice, job_id, "running")
    await sock.sync()

    assert reply == {"type": "unsubscribed", "topics": [{"job_id": job_id}], "ref": 7}
    assert sock.events() == []


@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        ("not json", "bad_json", "frame"),
        ("[1, 2]", "bad_frame", "frame"),
        ('{"op": "dance"}', "unknown_op", "op"),
        ('{"op": "subscribe", "topics": [{"job": "x"}]}', "bad_topic", "topics.0.job"),
        ('{"op": "subscribe", "topics": [{"user": "bob"}]}', "bad_topic", "topics.0.user"),
        ('{"op": "subscribe", "topics": [{"job_id": "a"}], "since": {"a": -1}}', "bad_field", "since.a"),
        ('{"op": "ping", "extra": 1}', "unknown_field", "extra"),
    ],
)
async def test_a_malformed_frame_gets_an_error_naming_the_field_and_the_socket_stays_open(
    hub_client: TestClient[Any, Any], people: People, frame: str, code: str, field: str
) -> None:
    sock = await connect(hub_client, people.alice)

    await sock.ws.send_str(frame)
    error = await sock.next()

    assert (error["type"], error["code"], error["field"]) == ("error", code, field)
    assert await sock.sync() == []


async def test_a_frame_over_the_size_limit_closes_with_1009(hub_client: TestClient[Any, Any], people: People) -> None:
    sock = await connect(hub_client, people.alice)

    await sock.ws.send_str('{"op": "ping", "ref": "' + "x" * 70_000 + '"}')

    assert await sock.closed() == CloseCode.MESSAGE_TOO_BIG


async def test_a_binary_frame_closes_with_1003(hub_client: TestClient[Any, Any], people: People) -> None:
    sock = await connect(hub_client, people.alice)

    await sock.ws.send_bytes(b"\x00\x01")

    assert await sock.closed() == CloseCode.UNSUPPORTED_DATA


async def test_shutting_down_closes_every_socket_with_going_away(
    hub_client: TestClient[Any, Any], people: People
) -> None:
    sockets = [await connect(hub_client, who) for who in (people.alice, people.bob)]

    closing = asyncio.create_task(hub_client.server.close())
    codes = await asyncio.gather(*(s.closed() for s in sockets))
    await closing

    assert codes == [CloseCode.GOING_AWAY, CloseCode.GOING_AWAY]
    assert sockets[0].close_reason.startswith("server shutting down")


async def test_the_hub_reports_its_redis_subscription_as_up(hub_client: TestClient[Any, Any]) -> None:
    status = hub_of(hub_client).status

    assert status.ready
    assert status.to_json()["state"] == "up"


@pytest.mark.parametrize(("final", "expected"), [("succeeded", 10), ("cancelling", 3)])
async def test_the_snapshot_of_a_finished_job_shows_complete_progress_not_the_last_report(
    hub_client: TestClient[Any, Any], people: People, jobs: Jobs, final: str, expected: int
) -> None:
    pipeline = await jobs.pipeline(people.alice)
    job_id = await jobs.create(people.alice, pipeline)
    await jobs.move(people.alice, job_id, "running")
    report = {"stage": "fit", "completed": 3, "total": 10, "unit": "trees"}
    async with jobs.sessions.begin() as session:
        assert await update_progress(session, job_id, report)
    await jobs.move(people.alice, job_id, final)
    sock = await connect(hub_client, people.alice)
    snapshot = await sock.subscribe([{"job_id": job_id}])
    assert snapshot["jobs"][0]["progress"] == {**report, "completed": expected}
