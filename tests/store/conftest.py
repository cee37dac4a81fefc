"""Seed data for store tests: two users with a dataset and a pipeline each, and an admin."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.datasets import create_dataset
from store.jobs import create_job
from store.models import DatasetSource, Pipeline, TrainingJob, User
from store.pipelines import upsert_pipeline
from store.reader import Reader
from tests.job_fixtures import graph_for

GRAPH: dict[str, Any] = graph_for("random_forest", split={"test_size": 0.25, "random_state": 0},
                                  labels={"src": "Data", "split": "Split", "train": "Train"})


@dataclasses.dataclass(frozen=True)
class Tenant:
    user: User
    token: str
    dataset: DatasetSource
    pipeline: Pipeline

    @property
    def reader(self) -> Reader:
        return Reader(self.user.id, self.user.is_admin)


@dataclasses.dataclass(frozen=True)
class Tenants:
    alice: Tenant
    bob: Tenant
    admin: User

    @property
    def admin_reader(self) -> Reader:
        return Reader(self.admin.id, is_admin=True)


async def _tenant(session: AsyncSession, name: str) -> Tenant:
    from store.users import create_user

    user, token = await create_user(session, name)
    dataset = await create_dataset(
        session,
        owner_id=user.id,
        name=f"{name}.csv",
        storage_uri=f"file:///data/{name}.csv",
        format="csv",
        n_rows=10,
        columns=[{"name": "x", "dtype": "float64"}, {"name": "y", "dtype": "int64"}],
        sha256=hashlib.sha256(name.encode()).hexdigest(),
    )
    pipeline = await upsert_pipeline(session, dataset_source_id=dataset.id, graph=GRAPH, reader=Reader(user.id))
    return Tenant(user=user, token=token, dataset=dataset, pipeline=pipeline)


@pytest.fixture
async def tenants(session_factory: async_sessionmaker[AsyncSession]) -> Tenants:
    """Alice and Bob, each with a dataset and a pipeline, and an admin user."""
    from store.users import create_user

    async with session_factory.begin() as session:
        alice = await _tenant(session, "alice")
        bob = await _tenant(session, "bob")
        admin, _ = await create_user(session, "root", is_admin=True)
    return Tenants(alice=alice, bob=bob, admin=admin)


async def new_job(
    factory: async_sessionmaker[AsyncSession], tenant: Tenant, node_id: str = "train", **kwargs: Any
) -> TrainingJob:
    """Create a queued job on the tenant's pipeline and commit it."""
    fields: dict[str, Any] = {"model_type": "random_forest", "hyperparameters": {"n_estimators": 10}}
    fields.update(kwargs)
    async with factory.begin() as session:
        result = await create_job(
            session,
            pipeline_id=tenant.pipeline.pipeline_id,
            node_id=node_id,
            dataset_source_id=tenant.dataset.id,
            user_id=tenant.user.id,
            **fields,
        )
    return result.job
