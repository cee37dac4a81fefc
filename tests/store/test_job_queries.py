"""Job lists: filters, stable cursor paging, counts (both databases)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.errors import InvalidInput
from store.job_listing import list_jobs
from store.job_queries import active_job_for_node, count_active, queued_jobs_to_resend, stale_jobs
from store.jobs import heartbeat, transition
from store.models import TrainingJob
from store.reader import Reader
from store.states import JobStatus
from store.types import utcnow
from tests.store.conftest import Tenants, new_job

SYSTEM = Reader.system()


async def _set_created(factory: async_sessionmaker[AsyncSession], job_id: str, moment: dt.datetime) -> None:
    async with factory.begin() as session:
        await session.execute(update(TrainingJob).where(TrainingJob.id == job_id).values(created_at=moment))


async def test_paging_walks_every_job_once_newest_first_even_with_equal_timestamps(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    base = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    ids = []
    for i in range(7):
        job = await new_job(session_factory, tenants.alice)
        # Pairs share a timestamp, so the id must break ties.
        await _set_created(session_factory, job.id, base + dt.timedelta(seconds=i // 2))
        ids.append(job.id)
    expected = [j for _, j in sorted(((i // 2, jid) for i, jid in enumerate(ids)), reverse=True)]
    seen: list[str] = []
    cursor = None
    async with session_factory() as session:
        while True:
            page = await list_jobs(session, reader=tenants.alice.reader, limit=3, cursor=cursor)
            seen += [j.id for j in page.items]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
            # A job created meanwhile does not shift later pages.
            await new_job(session_factory, tenants.alice)
    assert seen[:7] == expected or seen == expected


async def test_filters_narrow_the_list(session_factory: async_sessionmaker[AsyncSession], tenants: Tenants) -> None:
    a1 = await new_job(session_factory, tenants.alice, node_id="n1")
    a2 = await new_job(session_factory, tenants.alice, node_id="n2", model_type="xgboost")
    b1 = await new_job(session_factory, tenants.bob, node_id="n1")
    async with session_factory.begin() as session:
        await transition(session, a2.id, JobStatus.RUNNING)
    await _set_created(session_factory, a1.id, dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    reader = tenants.alice.reader
    async with session_factory() as session:

        async def ids(**filters: object) -> set[str]:
            page = await list_jobs(session, **filters)  # type: ignore[arg-type]
            return {j.id for j in page.items}

        assert await ids(reader=reader) == {a1.id, a2.id}
        assert await ids(reader=reader, node_id="n1") == {a1.id}
        assert await ids(reader=reader, pipeline_id=tenants.alice.pipeline.pipeline_id) == {a1.id, a2.id}
        assert await ids(reader=reader, status="running") == {a2.id}
        assert await ids(reader=reader, status=["running", JobStatus.QUEUED]) == {a1.id, a2.id}
        assert await ids(reader=reader, model_type="xgboost") == {a2.id}
        assert await ids(reader=reader, created_before=dt.datetime(2021, 1, 1, tzinfo=dt.UTC)) == {a1.id}
        assert await ids(reader=reader, created_after=dt.datetime(2021, 1, 1, tzinfo=dt.UTC)) == {a2.id}
        assert await ids(reader=SYSTEM, node_id="n1") == {a1.id, b1.id}
        assert await ids(reader=SYSTEM, user_id=tenants.bob.user.id) == {b1.id}
        assert await ids(reader=reader, user_id=tenants.bob.user.id) == set()


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"status": "paused"}, "status"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"created_after": dt.datetime(2020, 1, 1)}, "created_after"),
    ],
)
async def test_bad_list_arguments_are_refused_naming_the_field(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants, filters: dict[str, object], field: str
) -> None:
    async with session_factory() as session:
        with pytest.raises(InvalidInput) as err:
            await list_jobs(session, reader=tenants.alice.reader, **filters)  # type: ignore[arg-type]
    assert err.value.field == field


async def test_active_counts_and_the_active_job_of_a_node(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    first = await new_job(session_factory, tenants.alice)
    second = await new_job(session_factory, tenants.alice)
    await new_job(session_factory, tenants.alice, node_id="other")
    async with session_factory.begin() as session:
        await transition(session, second.id, JobStatus.CANCELLED)
        await transition(session, first.id, JobStatus.RUNNING)
    pid = tenants.alice.pipeline.pipeline_id
    async with session_factory() as session:
        assert await count_active(session, tenants.alice.user.id) == 2
        assert await count_active(session, tenants.alice.user.id, at_most=1) == 1, "counting stops at at_most"
        assert await count_active(session, tenants.alice.user.id, at_most=5) == 2
        assert await count_active(session, tenants.bob.user.id) == 0
        active = await active_job_for_node(session, pid, "train")
        assert await active_job_for_node(session, pid, "nobody") is None
    assert active is not None and active.id == first.id


async def test_the_active_job_of_a_node_counts_only_jobs_of_the_same_kind(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    predicting = await new_job(session_factory, tenants.alice, kind="predictions")
    pid = tenants.alice.pipeline.pipeline_id
    async with session_factory() as session:
        assert await active_job_for_node(session, pid, "train") is None, "predictions never hold back training"
        found = await active_job_for_node(session, pid, "train", kind="predictions")
        assert await count_active(session, tenants.alice.user.id) == 1, "every kind counts towards the quota"
    assert found is not None and found.id == predicting.id


async def test_stale_jobs_are_running_jobs_without_a_recent_heartbeat(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    fresh, stale, queued = [await new_job(session_factory, tenants.alice) for _ in range(3)]
    async with session_factory.begin() as session:
        for job in (fresh, stale):
            await transition(session, job.id, JobStatus.RUNNING)
            await heartbeat(session, job.id, "w")
        await session.execute(
            update(TrainingJob).where(TrainingJob.id == stale.id).values(heartbeat_at=utcnow() - dt.timedelta(hours=1))
        )
    async with session_factory() as session:
        found = await stale_jobs(session, heartbeat_before=utcnow() - dt.timedelta(minutes=1))
    assert [j.id for j in found] == [stale.id]
    assert queued.status == "queued"


async def test_queued_jobs_to_resend_are_admitted_queued_jobs_unchanged_since_the_bound_oldest_first(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    old, older, fresh, running, waiting = [await new_job(session_factory, tenants.alice) for _ in range(5)]
    bob_old = await new_job(session_factory, tenants.bob)
    now = utcnow()
    async with session_factory.begin() as session:
        await transition(session, running.id, JobStatus.RUNNING)
        # Every user's jobs count: the reaper works for all of them. A job still waiting for
        # its turn (admitted_at NULL) has no message to lose: dispatch sends it, not the reaper.
        for job, age in ((old, 10), (older, 30), (running, 60), (bob_old, 20), (waiting, 40)):
            admitted = None if job is waiting else now - dt.timedelta(minutes=age)
            await session.execute(
                update(TrainingJob).where(TrainingJob.id == job.id)
                .values(updated_at=now - dt.timedelta(minutes=age), admitted_at=admitted)
            )
    bound = now - dt.timedelta(minutes=5)
    async with session_factory() as session:
        found = await queued_jobs_to_resend(session, updated_before=bound)
        first_two = await queued_jobs_to_resend(session, updated_before=bound, limit=2)
    assert [j.id for j in found] == [older.id, bob_old.id, old.id]
    assert [j.id for j in first_two] == [older.id, bob_old.id]
    assert fresh.id not in {j.id for j in found}
