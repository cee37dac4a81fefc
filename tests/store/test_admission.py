"""Fair share in the database: admission in turns and claims under the cap (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.admission import Claim, admit_next, any_waiting, claim, release, running_count
from store.engine import create_engine, create_session_factory
from store.jobs import transition
from store.models import TrainingJob
from store.states import JobStatus
from store.turns import Waiting, next_turns
from tests.store.conftest import Tenants, new_job


async def _row(factory: async_sessionmaker[AsyncSession], job_id: str) -> TrainingJob:
    async with factory() as session:
        return (await session.scalars(select(TrainingJob).where(TrainingJob.id == job_id))).one()


async def _admit(factory: async_sessionmaker[AsyncSession], cap: int) -> list[str]:
    async with factory.begin() as session:
        return [job.id for job in await admit_next(session, cap)]


async def _claim(factory: async_sessionmaker[AsyncSession], job: TrainingJob, cap: int) -> Claim:
    async with factory.begin() as session:
        return await claim(session, job, cap=cap, changes={"worker": "w:1"}, payload={})


async def test_admission_takes_turns_between_users_and_respects_the_cap(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    a = [await new_job(session_factory, tenants.alice) for _ in range(3)]
    b = await new_job(session_factory, tenants.bob)
    assert await _admit(session_factory, cap=1) == [a[0].id, b.id]
    # Both users hold their one slot now: nothing more until one ends.
    assert await _admit(session_factory, cap=1) == []
    assert (await _claim(session_factory, await _row(session_factory, a[0].id), cap=1)).result is not None
    async with session_factory.begin() as session:
        await transition(session, a[0].id, JobStatus.SUCCEEDED, expected=JobStatus.RUNNING)
    assert await _admit(session_factory, cap=1) == [a[1].id]
    assert (await _row(session_factory, a[2].id)).admitted_at is None


async def test_admission_without_a_cap_admits_every_waiting_job(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    a = [await new_job(session_factory, tenants.alice) for _ in range(3)]
    b = await new_job(session_factory, tenants.bob)
    assert await _admit(session_factory, cap=0) == [a[0].id, b.id, a[1].id, a[2].id]


async def test_admission_reads_only_the_jobs_that_fit_and_takes_the_same_turns_as_the_policy_over_all(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    a = [await new_job(session_factory, tenants.alice) for _ in range(6)]
    b = [await new_job(session_factory, tenants.bob) for _ in range(2)]
    waiting = [Waiting(job.id, job.user_id) for job in [*a, *b]]
    expected = next_turns(waiting, {}, {}, cap=3, limit=4)
    assert expected == [a[0].id, b[0].id, a[1].id, b[1].id]
    async with session_factory.begin() as session:
        assert [job.id for job in await admit_next(session, 3, limit=4)] == expected
    # Alice holds 2 of her 3 slots: one more of hers, oldest first; Bob has nothing waiting.
    assert await _admit(session_factory, cap=3) == [a[2].id]
    assert await _admit(session_factory, cap=3) == []
    assert [(await _row(session_factory, job.id)).admitted_at is None for job in a] == [False] * 3 + [True] * 3


async def test_a_claim_at_the_cap_sends_the_job_back_to_waiting_without_an_event(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    first, second = [await new_job(session_factory, tenants.alice) for _ in range(2)]
    assert await _admit(session_factory, cap=2) == [first.id, second.id]
    assert (await _claim(session_factory, await _row(session_factory, first.id), cap=1)).result is not None
    refused = await _claim(session_factory, await _row(session_factory, second.id), cap=1)
    assert refused.deferred and refused.result is None
    row = await _row(session_factory, second.id)
    assert (row.status, row.admitted_at, row.last_seq) == ("queued", None, 1)
    # The claim of a job of another user is not affected.
    other = await new_job(session_factory, tenants.bob)
    assert (await _claim(session_factory, other, cap=1)).result is not None


async def test_a_won_claim_records_when_the_job_was_admitted(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    job = await new_job(session_factory, tenants.alice)
    won = await _claim(session_factory, job, cap=1)
    assert won.result is not None and won.result.job.admitted_at is not None
    assert (won.result.job.status, won.result.job.worker) == ("running", "w:1")


async def test_release_only_touches_a_job_still_queued_in_that_attempt(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    job = await new_job(session_factory, tenants.alice)
    await _admit(session_factory, cap=1)
    async with session_factory.begin() as session:
        assert not await release(session, job.id, attempt=2)
        assert await release(session, job.id, attempt=1)
    assert (await _row(session_factory, job.id)).admitted_at is None


@pytest.fixture
async def two_factories(migrated_database_url: str) -> AsyncIterator[list[async_sessionmaker[AsyncSession]]]:
    """Two engines, as if two worker processes."""
    engines = [create_engine(migrated_database_url, pool_size=4, max_overflow=0) for _ in range(2)]
    try:
        yield [create_session_factory(engine) for engine in engines]
    finally:
        for engine in engines:
            await engine.dispose()


@pytest.mark.parametrize("cap", [1, 2])
async def test_concurrent_claims_on_two_connections_never_exceed_the_cap(
    session_factory: async_sessionmaker[AsyncSession],
    tenants: Tenants,
    two_factories: list[async_sessionmaker[AsyncSession]],
    cap: int,
) -> None:
    jobs = [await new_job(session_factory, tenants.alice) for _ in range(8)]
    for round_ in range(3):
        outcomes = await asyncio.gather(
            *(_claim(two_factories[i % 2], job, cap) for i, job in enumerate(jobs))
        )
        won = [o.result.job.id for o in outcomes if o.result is not None]
        async with session_factory() as session:
            running = await running_count(session, tenants.alice.user.id)
        assert len(won) == running == cap, f"round {round_}"
        # End the winners; the deferred jobs are all still queued, none lost, none duplicated.
        async with session_factory.begin() as session:
            for job_id in won:
                await transition(session, job_id, JobStatus.SUCCEEDED, expected=JobStatus.RUNNING)
        jobs = [job for job in jobs if job.id not in won]
        for job in jobs:
            assert (await _row(session_factory, job.id)).status == "queued"


async def test_concurrent_admissions_on_two_connections_never_exceed_the_cap(
    session_factory: async_sessionmaker[AsyncSession],
    tenants: Tenants,
    two_factories: list[async_sessionmaker[AsyncSession]],
) -> None:
    for _ in range(4):
        await new_job(session_factory, tenants.alice)
        await new_job(session_factory, tenants.bob)
    batches = await asyncio.gather(*(_admit(two_factories[i % 2], cap=2) for i in range(6)))
    admitted = [job_id for batch in batches for job_id in batch]
    assert len(admitted) == len(set(admitted)) == 4
    async with session_factory() as session:
        rows = (await session.scalars(select(TrainingJob).where(TrainingJob.admitted_at.is_not(None)))).all()
    assert sorted(r.user_id for r in rows) == sorted([tenants.alice.user.id] * 2 + [tenants.bob.user.id] * 2)


async def test_any_waiting_sees_only_queued_jobs_not_yet_admitted(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    async with session_factory() as session:
        assert not await any_waiting(session)
    await new_job(session_factory, tenants.alice)
    async with session_factory() as session:
        assert await any_waiting(session)
    await _admit(session_factory, cap=1)
    async with session_factory() as session:
        assert not await any_waiting(session)
