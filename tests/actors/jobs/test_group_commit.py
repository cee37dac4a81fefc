"""Group commit of submissions (SQLite): every guarantee of a submission alone holds in a batch.

Submissions started together with ``asyncio.gather`` on a warm dataset head reach the queue
before the writer's first step, so they are one batch (each test checks the batch's size).
The context is the real one on a real SQLite database; the publisher and the sender are the
in-process stand-ins for Redis and the broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from actors.errors import ActiveJobConflict, BrokerUnavailable, QuotaExceeded
from actors.jobs.group_commit import SubmissionBatches
from actors.jobs.publish import CollectingPublisher
from actors.jobs.service import SubmitRequest, submit_training_job
from store.datasets import create_dataset, delete_dataset
from store.errors import NotFound
from store.job_queries import get_job
from store.reader import Reader
from store.users import create_user
from tests.job_fixtures import JobWorld, graph_for


@pytest.fixture
def migrated_database_url(sqlite_migrated_database_url: str) -> str:
    """SQLite only: PostgreSQL submissions are recorded alone."""
    return sqlite_migrated_database_url


class CommittedFirstPublisher(CollectingPublisher):
    """Collects events, and checks on each that its job is already committed (read on another connection)."""

    def __init__(self, world: JobWorld) -> None:
        super().__init__()
        self._world = world
        self.uncommitted: list[str] = []

    async def publish(self, user_id: str | int, event: Mapping[str, Any]) -> None:
        async with self._world.sessions() as session:
            try:
                await get_job(session, str(event["job_id"]), reader=Reader.system())
            except NotFound:
                self.uncommitted.append(str(event["job_id"]))
        await super().publish(user_id, event)


@pytest.fixture
def world(job_world: JobWorld) -> JobWorld:
    job_world.ctx.submission_batches = SubmissionBatches()
    job_world.ctx.publisher = job_world.publisher = CommittedFirstPublisher(job_world)
    return job_world


def _batches(world: JobWorld) -> SubmissionBatches:
    assert world.ctx.submission_batches is not None
    return world.ctx.submission_batches


async def _together(world: JobWorld, requests: list[tuple[Reader, SubmitRequest]]) -> list[Any]:
    return list(await asyncio.gather(
        *(submit_training_job(world.ctx, reader, request) for reader, request in requests), return_exceptions=True
    ))


def _request(world: JobWorld, **extra: Any) -> SubmitRequest:
    graph = graph_for("logistic_regression")
    return SubmitRequest(dataset_source_id=world.datasets["breast_cancer"].id, node_id="train", graph=graph, **extra)


async def test_submissions_arriving_together_share_one_transaction_and_publish_only_after_it(
    world: JobWorld,
) -> None:
    world.with_settings(one_active_per_node=False, max_running_per_user=0)
    await world.submit(graph_for("logistic_regression"))  # the dataset's head is read once, before the batch
    results = await _together(world, [(world.reader, _request(world)) for _ in range(5)])
    assert _batches(world).last_batch_size == 5
    ids = [job.id for job in results]
    assert len(set(ids)) == 5
    for job_id in ids:
        stored = await world.job(job_id)
        assert stored.status == "queued" and stored.admitted_at is not None, "no cap: each is admitted and sent"
        assert [(e["seq"], e["status"]) for e in await world.events(job_id)] == [(1, "queued")]
    assert set(ids) <= set(world.sender.sent)
    published = [event["job_id"] for _, event in world.publisher.events]
    assert set(ids) <= set(published)
    assert isinstance(world.publisher, CommittedFirstPublisher) and world.publisher.uncommitted == []


async def test_a_second_job_on_a_node_in_the_same_batch_is_refused_naming_the_first(world: JobWorld) -> None:
    world.with_settings(one_active_per_node=True)
    await world.ctx.dataset_heads.get(world.sessions, world.datasets["breast_cancer"].id, reader=world.reader)
    first, second = await _together(world, [(world.reader, _request(world)) for _ in range(2)])
    assert _batches(world).last_batch_size == 2
    assert isinstance(second, ActiveJobConflict), second
    assert second.details == {"active_job_id": first.id, "status": "queued"}
    assert [event["job_id"] for _, event in world.publisher.events] == [first.id]


async def test_the_quota_counts_each_users_earlier_members_of_the_batch(world: JobWorld) -> None:
    world.with_settings(one_active_per_node=False, max_active_per_user=3, max_running_per_user=0)
    alice = world.reader
    async with world.sessions.begin() as session:
        bob_user, _ = await create_user(session, "bob")
        mine = world.datasets["breast_cancer"]
        bobs = await create_dataset(
            session, owner_id=bob_user.id, name="bobs", storage_uri=mine.storage_uri, format="csv",
            n_rows=mine.n_rows, columns=mine.columns, sha256=mine.sha256,
        )
    bob = Reader(bob_user.id)
    await world.submit(graph_for("logistic_regression"))  # alice holds one active job already
    await world.ctx.dataset_heads.get(world.sessions, bobs.id, reader=bob)
    bob_request = SubmitRequest(dataset_source_id=bobs.id, node_id="train", graph=graph_for("logistic_regression"))
    requests = [(alice, _request(world)) for _ in range(4)] + [(bob, bob_request) for _ in range(2)]
    results = await _together(world, requests)
    assert _batches(world).last_batch_size == 6
    refused = [r for r in results[:4] if isinstance(r, QuotaExceeded)]
    assert len(refused) == 2 and refused[0].details == {"max_active_per_user": 3}
    assert [type(r).__name__ for r in results[4:]] == ["TrainingJob", "TrainingJob"], "bob's quota is his own"
    assert [r.user_id for r in results if not isinstance(r, Exception)] == [alice.user_id] * 2 + [bob.user_id] * 2


async def test_a_member_whose_dataset_was_deleted_fails_alone_and_the_others_are_recorded(world: JobWorld) -> None:
    world.with_settings(one_active_per_node=False, max_running_per_user=0)
    # Both heads are known to the process; then one dataset goes away.
    for name in ("breast_cancer", "diabetes"):
        await world.ctx.dataset_heads.get(world.sessions, world.datasets[name].id, reader=world.reader)
    async with world.sessions.begin() as session:
        await delete_dataset(session, world.datasets["diabetes"].id, reader=world.reader)
    doomed = SubmitRequest(
        dataset_source_id=world.datasets["diabetes"].id, node_id="train",
        graph=graph_for("linear_regression", task="regression"),
    )
    requests = [(world.reader, _request(world)), (world.reader, doomed), (world.reader, _request(world))]
    results = await _together(world, requests)
    assert _batches(world).last_batch_size == 3
    assert isinstance(results[1], NotFound), results[1]
    for job in (results[0], results[2]):
        assert (await world.job(job.id)).status == "queued"
        assert [e["seq"] for e in await world.events(job.id)] == [1]


async def test_an_idempotency_key_is_honoured_beside_a_batch(world: JobWorld) -> None:
    world.with_settings(one_active_per_node=False)
    await world.ctx.dataset_heads.get(world.sessions, world.datasets["breast_cancer"].id, reader=world.reader)
    keyed = [(world.reader, _request(world, idempotency_key="k-1")) for _ in range(3)]
    results = await _together(world, [*keyed, (world.reader, _request(world))])
    assert len({job.id for job in results[:3]}) == 1, "one job for the key, however many times it is sent"
    assert results[3].id != results[0].id


async def test_a_member_whose_message_cannot_be_sent_is_failed_and_told_so(world: JobWorld) -> None:
    world.with_settings(one_active_per_node=False, max_running_per_user=0)
    await world.ctx.dataset_heads.get(world.sessions, world.datasets["breast_cancer"].id, reader=world.reader)
    world.sender.fail_with = ConnectionError("broker down")
    results = await _together(world, [(world.reader, _request(world)) for _ in range(2)])
    assert _batches(world).last_batch_size == 2
    for error in results:
        assert isinstance(error, BrokerUnavailable), error
        job = await world.job(str(error.details["job_id"]))
        assert (job.status, job.error_code) == ("failed", "broker_unavailable")
