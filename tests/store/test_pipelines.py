"""Datasets and pipelines: creation, upsert by data-path hash (both databases)."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.datasets import create_dataset, get_dataset
from store.errors import InvalidInput
from store.graph_hash import graph_hash
from store.pipelines import get_pipeline, list_pipelines, upsert_pipeline
from tests.store.conftest import GRAPH, Tenants


async def test_saving_new_hyperparameters_updates_the_same_pipeline(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    alice = tenants.alice
    graph = copy.deepcopy(GRAPH)
    graph["nodes"][2]["data"]["config"]["hyperparameters"] = {"n_estimators": 300}
    graph["nodes"][0]["position"] = {"x": 40, "y": 40}
    async with session_factory.begin() as session:
        saved = await upsert_pipeline(session, dataset_source_id=alice.dataset.id, graph=graph, reader=alice.reader)
    assert saved.pipeline_id == alice.pipeline.pipeline_id == f"{alice.dataset.id}_{graph_hash(GRAPH)[:12]}"
    assert saved.created_at == alice.pipeline.created_at and saved.updated_at > alice.pipeline.updated_at
    async with session_factory() as session:
        loaded = await get_pipeline(session, saved.pipeline_id, reader=alice.reader)
    assert loaded.graph["nodes"][2]["data"]["config"]["hyperparameters"] == {"n_estimators": 300}


async def test_a_data_path_change_saves_a_new_pipeline(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    alice = tenants.alice
    graph = copy.deepcopy(GRAPH)
    graph["nodes"][1]["data"]["config"]["test_size"] = 0.5
    async with session_factory.begin() as session:
        saved = await upsert_pipeline(session, dataset_source_id=alice.dataset.id, graph=graph, reader=alice.reader)
    assert saved.pipeline_id != alice.pipeline.pipeline_id
    async with session_factory() as session:
        assert len(await list_pipelines(session, reader=alice.reader)) == 2


async def test_a_dataset_keeps_its_schema(session_factory: async_sessionmaker[AsyncSession], tenants: Tenants) -> None:
    async with session_factory() as session:
        dataset = await get_dataset(session, tenants.alice.dataset.id, reader=tenants.alice.reader)
    assert dataset.columns == [{"name": "x", "dtype": "float64"}, {"name": "y", "dtype": "int64"}]
    assert (dataset.n_rows, dataset.format) == (10, "csv")


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"name": " "}, "name"), ({"n_rows": -1}, "n_rows"), ({"sha256": "abc"}, "sha256")],
)
async def test_bad_dataset_fields_are_refused_by_name(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants, changes: dict[str, object], field: str
) -> None:
    fields: dict[str, object] = {
        "owner_id": tenants.alice.user.id,
        "name": "d",
        "storage_uri": "file:///d",
        "format": "csv",
        "n_rows": 1,
        "columns": [],
        "sha256": "e" * 64,
    }
    fields.update(changes)
    async with session_factory.begin() as session:
        with pytest.raises(InvalidInput) as err:
            await create_dataset(session, **fields)  # type: ignore[arg-type]
    assert err.value.field == field
