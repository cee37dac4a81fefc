"""Owner scoping: another user's rows look missing; admins see everything (both databases)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.datasets import get_dataset, list_datasets
from store.errors import NotFound
from store.job_listing import list_jobs
from store.job_queries import events_since, get_job
from store.pipelines import get_pipeline, list_pipelines, upsert_pipeline
from store.reader import Reader
from store.versions import create_model_version, get_version, list_versions
from tests.store.conftest import GRAPH, Tenants, new_job


async def test_user_b_gets_nothing_of_user_a_and_an_admin_gets_everything(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    alice, bob = tenants.alice, tenants.bob
    job = await new_job(session_factory, alice)
    pid = alice.pipeline.pipeline_id
    async with session_factory.begin() as session:
        await create_model_version(
            session,
            pipeline_id=pid,
            node_id="train",
            job_id=job.id,
            model_type="random_forest",
            hyperparameters={},
            metrics={},
            artifact_uri="file:///m",
            artifact_sha256="d" * 64,
        )
    async with session_factory() as session:
        for reader in (bob.reader,):
            with pytest.raises(NotFound):
                await get_job(session, job.id, reader=reader)
            with pytest.raises(NotFound):
                await events_since(session, job.id, 0, reader=reader)
            with pytest.raises(NotFound):
                await get_pipeline(session, pid, reader=reader)
            with pytest.raises(NotFound):
                await get_dataset(session, alice.dataset.id, reader=reader)
            with pytest.raises(NotFound):
                await list_versions(session, pid, "train", reader=reader)
            with pytest.raises(NotFound):
                await get_version(session, pid, "train", 1, reader=reader)
            assert (await list_jobs(session, reader=reader)).items == []
            assert [d.id for d in await list_datasets(session, reader=reader)] == [bob.dataset.id]
            assert [p.pipeline_id for p in await list_pipelines(session, reader=reader)] == [bob.pipeline.pipeline_id]

        for reader in (tenants.admin_reader, Reader.system()):
            assert (await get_job(session, job.id, reader=reader)).id == job.id
            assert len(await events_since(session, job.id, 0, reader=reader)) == 1
            assert (await get_pipeline(session, pid, reader=reader)).owner_id == alice.user.id
            assert (await get_dataset(session, alice.dataset.id, reader=reader)).owner_id == alice.user.id
            assert [v.version for v in await list_versions(session, pid, "train", reader=reader)] == [1]
            assert [j.id for j in (await list_jobs(session, reader=reader)).items] == [job.id]
            assert len(await list_datasets(session, reader=reader)) == 2

        # The owner sees their own rows.
        assert (await get_job(session, job.id, reader=alice.reader)).id == job.id
        assert (await get_version(session, pid, "train", 1, reader=alice.reader)).job_id == job.id


async def test_a_user_cannot_save_a_pipeline_on_another_users_dataset(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    async with session_factory.begin() as session:
        with pytest.raises(NotFound):
            await upsert_pipeline(
                session, dataset_source_id=tenants.alice.dataset.id, graph=GRAPH, reader=tenants.bob.reader
            )


def test_a_reader_without_a_user_must_be_an_admin() -> None:
    with pytest.raises(ValueError, match="user_id"):
        Reader(user_id=None)
