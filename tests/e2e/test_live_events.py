"""Live job events over the websocket with a real ``mlw serve`` and its real worker.

Jobs are submitted through the REST API and trained by the worker process; the sockets
see what the canvas sees. The database (through ``GET /training-jobs/{id}/events``) is
the truth every socket is compared with.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.clients import Api, Frame
from tests.e2e.conftest import SingleNode, SocketFactory
from tests.job_fixtures import graph_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

FIT = graph_for("random_forest", hyperparameters={"n_estimators": 60, "max_depth": 10})
"""A fit of a few seconds that reports progress tree batch by tree batch."""


def _assert_is_the_audit_trail(received: list[Frame], stored: list[Frame]) -> None:
    """The persisted events a socket received are the database's, in order, each once, as stored."""
    assert [e["seq"] for e in received] == [e["seq"] for e in stored]
    assert received == stored
    assert [e["seq"] for e in stored] == list(range(1, len(stored) + 1)), "the trail itself has no gaps"


async def test_a_pipeline_subscriber_sees_queued_running_progress_succeeded_in_order_with_seqs_1_to_n(
    single_node: SingleNode, http: aiohttp.ClientSession, open_socket: SocketFactory, training_csv: Path
) -> None:
    alice = Api(http, single_node.url, single_node.alice)
    dataset = await alice.upload_dataset(training_csv)
    pipeline_id = await alice.save_pipeline(dataset, FIT)
    sock = await open_socket(single_node.url, single_node.alice)
    snapshot = await sock.subscribe([{"pipeline_id": pipeline_id}])
    assert snapshot["jobs"] == []

    job = await alice.submit(dataset, FIT)
    assert job["pipeline_id"] == pipeline_id
    final = await sock.wait_status(job["id"])
    assert final["status"] == "succeeded", await alice.job(job["id"])
    await sock.sync("done")

    received = sock.events(job["id"])
    persisted = [e for e in received if "seq" in e]
    _assert_is_the_audit_trail(persisted, await alice.events(job["id"]))
    statuses = [(e["status"], e["seq"]) for e in persisted if e["type"] == "job.status"]
    assert [status for status, _ in statuses] == ["queued", "running", "succeeded"]
    assert statuses[0][1] == 1 and statuses[-1][1] == persisted[-1]["seq"], "queued first, succeeded last"

    kinds = [e["type"] if e["type"] != "job.status" else e["status"] for e in received]
    progress_at = [i for i, kind in enumerate(kinds) if kind == "job.progress"]
    assert progress_at, f"no progress pushed: {kinds}"
    assert kinds.index("running") < progress_at[0] and progress_at[-1] < kinds.index("succeeded"), kinds
    for index in progress_at:
        progress = received[index]
        assert "seq" not in progress
        assert {"stage", "completed", "total", "unit"} <= set(progress["progress"])
    assert kinds[-1] == "succeeded", "nothing follows the terminal event"
    assert [v["job_id"] for v in await alice.versions(pipeline_id)] == [job["id"]]


async def test_a_client_that_reconnects_with_since_gets_exactly_the_missed_events(
    single_node: SingleNode, http: aiohttp.ClientSession, open_socket: SocketFactory, training_csv: Path
) -> None:
    alice = Api(http, single_node.url, single_node.alice)
    dataset = await alice.upload_dataset(training_csv)
    pipeline_id = await alice.save_pipeline(dataset, FIT)
    topic = [{"pipeline_id": pipeline_id}]

    # Gone for the rest of the job: the replay is everything after `since`.
    first = await open_socket(single_node.url, single_node.alice)
    await first.subscribe(topic)
    job = (await alice.submit(dataset, FIT))["id"]
    await first.wait_for(lambda f: f["type"] == "job.progress" and f["job_id"] == job)
    await first.close()
    seen = first.seqs(job)
    assert seen == [1, 2], "disconnected mid-job, after queued and running"
    assert (await alice.wait_job(job))["status"] == "succeeded"
    stored = await alice.events(job)
    assert len(stored) > len(seen), "events happened while the client was away"

    second = await open_socket(single_node.url, single_node.alice)
    snapshot = await second.subscribe(topic, since={job: seen[-1]})
    assert [(j["id"], j["status"]) for j in snapshot["jobs"]] == [(job, "succeeded")]
    await second.sync("replayed")
    _assert_is_the_audit_trail(first.persisted(job) + second.persisted(job), stored)
    assert second.seqs(job) == list(range(seen[-1] + 1, len(stored) + 1))

    # Back while the next job still runs: replay and live delivery meet without a duplicate.
    next_job = (await alice.submit(dataset, FIT))["id"]
    await second.wait_for(lambda f: f["type"] == "job.progress" and f["job_id"] == next_job)
    await second.close()
    left_at = second.seqs(next_job)[-1]
    third = await open_socket(single_node.url, single_node.alice)
    await third.subscribe(topic, since={job: len(stored), next_job: left_at})
    await third.wait_status(next_job)
    await third.sync("done")
    _assert_is_the_audit_trail(second.persisted(next_job) + third.persisted(next_job), await alice.events(next_job))
    assert third.persisted(job) == [], "a job the client is up to date with is not replayed"


async def test_a_user_never_receives_another_users_events_whatever_they_subscribe_to(
    single_node: SingleNode, http: aiohttp.ClientSession, open_socket: SocketFactory, training_csv: Path
) -> None:
    alice = Api(http, single_node.url, single_node.alice)
    bob = Api(http, single_node.url, single_node.bob)
    alice_data, bob_data = await asyncio.gather(alice.upload_dataset(training_csv), bob.upload_dataset(training_csv))
    alice_pipeline = await alice.save_pipeline(alice_data, FIT)
    bob_pipeline = await bob.save_pipeline(bob_data, FIT)
    assert alice_pipeline != bob_pipeline

    watcher = await open_socket(single_node.url, single_node.alice)
    await watcher.subscribe([{"pipeline_id": alice_pipeline}])
    bob_own = await open_socket(single_node.url, single_node.bob)
    await bob_own.subscribe([{"user": "me"}])
    bob_prying = await open_socket(single_node.url, single_node.bob)
    await bob_prying.subscribe([{"pipeline_id": alice_pipeline}])
    bob_everything = await open_socket(single_node.url, single_node.bob)
    await bob_everything.subscribe([{"user": "me"}, {"pipeline_id": alice_pipeline}, {"pipeline_id": bob_pipeline}])

    submitted = await asyncio.gather(alice.submit(alice_data, FIT), bob.submit(bob_data, FIT))
    alice_job, bob_job = (job["id"] for job in submitted)
    # Bob learnt Alice's job id somehow: subscribing to it, even with a replay request, shows nothing.
    snapshot = await bob_prying.subscribe([{"job_id": alice_job}], since={alice_job: 0}, ref="pry")
    assert (snapshot["jobs"], snapshot["missing"]) == ([], [alice_job])

    await asyncio.gather(
        watcher.wait_status(alice_job), bob_own.wait_status(bob_job), bob_everything.wait_status(bob_job)
    )
    assert (await alice.job(alice_job))["status"] == "succeeded"
    bob_sockets = (bob_own, bob_prying, bob_everything)
    await asyncio.gather(*(sock.sync("end") for sock in bob_sockets))

    assert watcher.seqs(alice_job) == list(range(1, len(await alice.events(alice_job)) + 1))
    assert bob_job not in watcher.job_ids()
    for sock in bob_sockets:
        assert alice_job not in sock.job_ids(), f"bob's socket {sock.frames}"
        assert all(e.get("pipeline_id") != alice_pipeline for e in sock.events())
    assert bob_prying.events() == []
    bob_trail = await bob.events(bob_job)
    for sock in (bob_own, bob_everything):
        _assert_is_the_audit_trail(sock.persisted(bob_job), bob_trail)
