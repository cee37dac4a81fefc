"""Six valid 995-node pipelines from one user (issue 13): saved and submitted correctly, their
CPU work on the bounded executor under the user's share, never a 5xx."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.app import create_app
from store.graph_hash import graph_hash, pipeline_id_for
from store.settings import Settings
from tests.job_fixtures import long_chain
from tests.server.conftest import API, ClientFactory, People, RecordingSender
from tests.server.seed import graph, upload_csv

NODES = 995


@pytest.fixture
def app(settings: Settings, sender: RecordingSender) -> web.Application:
    # One heavy step per user at a time and none waiting: a user's second concurrent large
    # request can only be refused if it goes through the bounded executor.
    server = dataclasses.replace(settings.server, cpu_tasks_per_user=1, cpu_queue_per_user=0)
    return create_app(dataclasses.replace(settings, server=server), sender=sender)


@pytest.fixture
async def client(app: web.Application, people: People, aiohttp_client: ClientFactory) -> TestClient[Any, Any]:
    return await aiohttp_client(app)


def _big(index: int) -> dict[str, Any]:
    big = long_chain(graph(), NODES)
    big["nodes"][1]["data"]["config"] = {"strategy": "median" if index % 2 else "mean"}  # six distinct pipelines
    return big


async def test_a_995_node_pipeline_is_saved_under_its_hash_and_submitted(
    client: TestClient[Any, Any], people: People, sender: RecordingSender
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    big = _big(0)
    assert len(big["nodes"]) == NODES
    resp = await client.put(f"{API}/pipelines", json={"dataset_source_id": dataset_id, "graph": big},
                            headers=people.alice.headers)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["pipeline"]["pipeline_id"] == pipeline_id_for(dataset_id, graph_hash(big))
    body = {"dataset_source_id": dataset_id, "node_id": "train-1", "graph": big, "idempotency_key": "big-1"}
    resp = await client.post(f"{API}/training-jobs", json=body, headers=people.alice.headers)
    assert resp.status == 202, await resp.text()
    job = await resp.json()
    assert job["pipeline_id"] == pipeline_id_for(dataset_id, graph_hash(big))
    assert [job_id for job_id, _ in sender.sent] == [job["id"]]
    # The same body again: the fingerprint computed off the event loop matches.
    again = await client.post(f"{API}/training-jobs", json=body, headers=people.alice.headers)
    assert (again.status, (await again.json())["id"]) == (202, job["id"])


async def test_six_large_submissions_at_once_run_one_at_a_time_per_user_and_never_fail_with_5xx(
    client: TestClient[Any, Any], people: People
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    bob_dataset = await upload_csv(client, people.bob)

    async def put(index: int) -> int:
        body = {"dataset_source_id": dataset_id, "graph": _big(index)}
        resp = await client.put(f"{API}/pipelines", json=body, headers=people.alice.headers)
        if resp.status == 429:
            assert resp.headers.get("Retry-After")
            assert (await resp.json())["error"]["code"] == "cpu_busy"
        return resp.status

    async def bob_small() -> int:
        body = {"dataset_source_id": bob_dataset, "graph": graph()}
        return (await client.put(f"{API}/pipelines", json=body, headers=people.bob.headers)).status

    statuses = await asyncio.gather(*(put(i) for i in range(6)), bob_small())
    alice, bob = statuses[:6], statuses[6]
    assert bob in (200, 201), "another user is not limited by alice's share"
    assert set(alice) <= {200, 201, 429} and 429 in alice and any(s in (200, 201) for s in alice), alice
