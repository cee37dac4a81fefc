"""The hot job read: the same values, scoping and errors as the ORM read (both databases)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from store.errors import NotFound
from store.job_queries import get_job
from store.job_view import get_job_view
from store.jobs import transition
from store.models import Pipeline, TrainingJob
from store.pipeline_queries import pipeline_names
from store.reader import Reader
from store.row_reads import RowReads
from store.states import JobStatus
from tests.store.conftest import Tenants, new_job


@pytest.fixture
async def reads(migrated_engine: AsyncEngine) -> AsyncIterator[RowReads]:
    row_reads = RowReads(migrated_engine)
    try:
        yield row_reads
    finally:
        row_reads.close()


def _columns(job: object) -> dict[str, object]:
    return {c.key: getattr(job, c.key) for c in TrainingJob.__table__.c if c.key != "graph"}


async def test_a_job_reads_exactly_as_the_orm_reads_it_with_its_pipeline_names(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants, reads: RowReads
) -> None:
    job = await new_job(session_factory, tenants.alice, warnings=[{"code": "w"}])
    async with session_factory.begin() as session:
        changes = {"progress": {"stage": "fit", "pct": 40}, "metrics": {"accuracy": 0.5}}
        await transition(session, job.id, JobStatus.RUNNING, changes=changes)
        await session.execute(
            update(Pipeline).where(Pipeline.pipeline_id == job.pipeline_id).values(name="churn model")
        )
    reader = tenants.alice.reader
    async with session_factory() as session:
        expected = await get_job(session, job.id, reader=reader)
        names = await pipeline_names(session, [job.pipeline_id], reader=reader)

    view = await get_job_view(reads, job.id, reader=reader)

    assert _columns(view.job) == _columns(expected)
    assert view.job.started_at is not None and view.job.started_at.tzinfo is not None
    assert view.job.progress == {"stage": "fit", "pct": 40}
    assert view.pipeline_name == names[job.pipeline_id].name == "churn model"
    assert view.node_label == names[job.pipeline_id].node_labels["train"] == "Train"


async def test_another_users_job_is_not_found_and_an_admin_reads_every_job(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants, reads: RowReads
) -> None:
    job = await new_job(session_factory, tenants.alice)

    with pytest.raises(NotFound):
        await get_job_view(reads, job.id, reader=tenants.bob.reader)
    with pytest.raises(NotFound):
        await get_job_view(reads, "no-such-job", reader=tenants.alice.reader)
    seen = await get_job_view(reads, job.id, reader=tenants.admin_reader)
    assert seen.job.id == job.id and seen.job.user_id == tenants.alice.user.id
    assert seen.node_label == "Train"


async def test_a_job_whose_pipeline_the_reader_does_not_own_shows_no_names(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants, reads: RowReads
) -> None:
    # A job of Alice's on Bob's pipeline (as only a direct store write can make one).
    job = await new_job(session_factory, tenants.alice)
    async with session_factory.begin() as session:
        await session.execute(
            update(TrainingJob).where(TrainingJob.id == job.id).values(pipeline_id=tenants.bob.pipeline.pipeline_id)
        )

    view = await get_job_view(reads, job.id, reader=tenants.alice.reader)

    assert view.job.pipeline_id == tenants.bob.pipeline.pipeline_id
    assert view.pipeline_name is None and view.node_label is None


async def test_a_sqlite_file_is_read_through_the_read_pool_and_a_committed_change_is_seen_at_once(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants, reads: RowReads, migrated_engine: AsyncEngine
) -> None:
    assert reads.pooled == (migrated_engine.dialect.name == "sqlite")
    job = await new_job(session_factory, tenants.alice)
    assert (await get_job_view(reads, job.id, reader=Reader.system())).job.status == "queued"
    async with session_factory.begin() as session:
        await transition(session, job.id, JobStatus.CANCELLED)

    assert (await get_job_view(reads, job.id, reader=Reader.system())).job.status == "cancelled"
