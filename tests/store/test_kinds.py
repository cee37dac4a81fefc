"""Job kinds in the store: the column, its default, its events, and unknown kinds refused (both databases)."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.errors import InvalidInput
from store.job_queries import events_since
from store.jobs import transition
from store.kinds import JobKind, parse_kind
from store.models import TrainingJob
from store.reader import Reader
from store.states import JobStatus
from store.types import new_id, utcnow
from tests.store.conftest import Tenants, new_job


async def test_a_job_is_a_training_job_unless_it_says_otherwise_and_every_event_names_its_kind(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    job = await new_job(session_factory, tenants.alice)
    assert job.kind == "training"
    async with session_factory.begin() as session:
        assert await transition(session, job.id, JobStatus.RUNNING) is not None
    async with session_factory() as session:
        events = await events_since(session, job.id, 0, reader=Reader.system())
    assert [e["kind"] for e in events] == ["training", "training"]


async def test_a_row_inserted_without_a_kind_gets_training_from_the_database_default(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    # Rows written before migration 0011 (or by an older process) have no kind in their INSERT.
    job_id, now = new_id(), utcnow()
    alice = tenants.alice
    async with session_factory.begin() as session:
        await session.execute(insert(TrainingJob.__table__).values(
            id=job_id, pipeline_id=alice.pipeline.pipeline_id, node_id="train", dataset_source_id=alice.dataset.id,
            user_id=alice.user.id, status="queued", model_type="xgboost", hyperparameters={},
            resolved_hyperparameters={}, config={}, graph={}, warnings=[], attempt=1, last_seq=0,
            created_at=now, updated_at=now,
        ))
    async with session_factory() as session:
        assert await session.scalar(select(TrainingJob.kind).where(TrainingJob.id == job_id)) == "training"


async def test_an_unknown_kind_is_refused_naming_the_field(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await new_job(session_factory, tenants.alice, kind="juggling")
    assert caught.value.field == "kind"
    assert parse_kind("training") is JobKind.TRAINING
