"""Alias changes pushed over a real websocket (real aiohttp server, real Redis): to the owner, never to others."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.hub import RedisState
from store.settings import Settings
from tests.server.conftest import API, ClientFactory, People
from tests.server.hub_helpers import Socket, connect, hub_app, hub_of
from tests.server.seed import add_job, graph, save_pipeline, upload_csv

NODE = "train-1"


@pytest.fixture
async def hub_client(settings: Settings, people: People, aiohttp_client: ClientFactory) -> TestClient[Any, Any]:
    """The app with the hub, running, its Redis subscription up."""
    client = await aiohttp_client(hub_app(settings))
    await hub_of(client).fanout.wait_for(RedisState.UP)
    return client


@pytest.fixture
async def pipeline_id(hub_client: TestClient[Any, Any], people: People, settings: Settings) -> str:
    """Alice's pipeline whose node has two versions."""
    dataset_id = await upload_csv(hub_client, people.alice)
    pid = await save_pipeline(hub_client, people.alice, dataset_id, graph())
    for _ in range(2):
        await add_job(settings, people.alice, pid, NODE, dataset_id, status="succeeded", metrics={"test": {}})
    return pid


def _alias(frame: dict[str, Any]) -> bool:
    return frame["type"] == "alias.changed"


def _aliases(sock: Socket) -> list[tuple[str, str, int | None, int | None]]:
    return [(f["alias"], f["action"], f["from_version"], f["to_version"]) for f in sock.frames if _alias(f)]


async def test_setting_moving_removing_and_promoting_push_alias_events_to_the_owners_sockets(
    hub_client: TestClient[Any, Any], people: People, pipeline_id: str
) -> None:
    node = f"{API}/pipelines/{pipeline_id}/nodes/{NODE}"
    alice = people.alice.headers
    by_pipeline = await connect(hub_client, people.alice)
    await by_pipeline.subscribe([{"pipeline_id": pipeline_id}])
    by_user = await connect(hub_client, people.alice)
    await by_user.subscribe([{"user": "me"}])

    set_at = await hub_client.post(f"{node}/aliases/champion", json={"version": 2}, headers=alice)
    assert set_at.status == 200
    event = await by_pipeline.until(_alias)
    written = await set_at.json()
    assert event == {
        "type": "alias.changed", "pipeline_id": pipeline_id, "node_id": NODE, "alias": "champion",
        "action": "set", "from_version": None, "to_version": 2, "changed_by": "alice", "at": written["changed_at"],
    }
    assert "job_id" not in event and "seq" not in event

    assert (await hub_client.post(f"{node}/aliases/champion", json={"version": 1}, headers=alice)).status == 200
    unchanged = await hub_client.post(f"{node}/aliases/champion", json={"version": 1}, headers=alice)
    assert (await unchanged.json())["changed"] is False  # nothing written: nothing published
    assert (await hub_client.delete(f"{node}/aliases/champion", headers=alice)).status == 200
    assert (await hub_client.post(f"{node}/versions/2/promote", headers=alice)).status == 200
    await by_pipeline.until(lambda f: _alias(f) and f["alias"] == "active")
    await by_user.until(lambda f: _alias(f) and f["alias"] == "active")

    expected = [
        ("champion", "set", None, 2),
        ("champion", "move", 2, 1),
        ("champion", "remove", 1, None),
        ("active", "set", None, 2),
    ]
    assert _aliases(by_pipeline) == expected
    assert _aliases(by_user) == expected


async def test_another_users_socket_never_receives_an_alias_event_and_an_admin_following_the_pipeline_does(
    hub_client: TestClient[Any, Any], people: People, pipeline_id: str
) -> None:
    owner = await connect(hub_client, people.alice)
    await owner.subscribe([{"pipeline_id": pipeline_id}])
    bob = await connect(hub_client, people.bob)
    await bob.subscribe([{"pipeline_id": pipeline_id}, {"user": "me"}])
    admin = await connect(hub_client, people.admin)
    await admin.subscribe([{"pipeline_id": pipeline_id}])
    node = f"{API}/pipelines/{pipeline_id}/nodes/{NODE}"

    refused = await hub_client.post(f"{node}/aliases/champion", json={"version": 1}, headers=people.bob.headers)
    assert refused.status == 404  # bob may not write alice's pipeline: nothing is published either
    done = await hub_client.post(f"{node}/aliases/staging", json={"version": 1}, headers=people.alice.headers)
    assert done.status == 200
    await owner.until(_alias)
    await admin.until(_alias)
    await owner.sync()  # the fan-out offered the event to every socket at once

    assert _aliases(owner) == _aliases(admin) == [("staging", "set", None, 1)]
    assert [f for f in await bob.sync() if _alias(f)] == []
    assert _aliases(bob) == []
