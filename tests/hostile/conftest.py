"""Fixtures of the hostile-input tests: the server tests' app and users, and alice's real objects.

Every hostile request is sent next to real data (a dataset, a pipeline, a succeeded job with
its artifact and model version), so a request that leaked or damaged something would show.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from store.settings import Settings, load_settings
from tests.server import conftest as server_fixtures
from tests.server.conftest import People
from tests.server.seed import add_job, graph, save_pipeline, upload_csv

# The server tests' fixtures, shared (``settings`` is redefined below for both databases).
app = server_fixtures.app
client = server_fixtures.client
people = server_fixtures.people
sender = server_fixtures.sender


@dataclasses.dataclass(frozen=True)
class AliceObjects:
    """Alice's dataset, pipeline (two training nodes) and a succeeded job with version 1."""

    dataset_id: str
    pipeline_id: str
    node_id: str
    job_id: str
    version: int


@pytest.fixture
async def alices(client: TestClient[Any, Any], people: People, settings: Settings) -> AliceObjects:
    dataset_id = await upload_csv(client, people.alice)
    pipeline_id = await save_pipeline(client, people.alice, dataset_id, graph(("train-1", "train-2")))
    job_id, version = await add_job(
        settings, people.alice, pipeline_id, "train-1", dataset_id, status="succeeded", metrics={"test": {"f1": 0.7}}
    )
    assert version == 1
    return AliceObjects(dataset_id, pipeline_id, "train-1", job_id, version)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> Settings:
    """Settings of one test on SQLite, then on PostgreSQL: hostile values must fail the same on both."""
    database_url: str = request.getfixturevalue(f"{request.param}_migrated_database_url")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    return load_settings(
        environ={},
        overrides={"data": {"data_dir": str(data_dir)}, "database": {"url": database_url}, "redis": {"url": redis_url}},
    )
