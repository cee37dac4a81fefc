"""Websocket limits: sockets per user, snapshot size, snapshots shared between sockets."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from server.hub import HUB_PATH, CloseCode, HubConfig, RedisState
from store.jobs import create_job
from store.settings import Settings
from tests.server.conftest import ClientFactory, People, Person
from tests.server.hub_helpers import TEST_CONFIG, Jobs, Socket, connect, hub_app, hub_of

LIMITED = dataclasses.replace(TEST_CONFIG, max_sockets_per_user=2, snapshot_warnings_per_job=3, snapshot_cache_s=60.0)


@pytest.fixture
def hub_config() -> HubConfig:
    return LIMITED


async def _handshake_status(client: TestClient[Any, Any], who: Person) -> tuple[int, dict[str, Any], str]:
    """A raw upgrade request: the status, JSON body and Retry-After of a refused handshake."""
    headers = {**who.headers, "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    async with client.get(HUB_PATH, headers=headers) as response:
        body = await response.json() if response.status != 101 else {}
        return response.status, body, response.headers.get("Retry-After", "")


async def test_a_handshake_beyond_the_users_socket_limit_is_answered_429_not_500(
    hub_client: TestClient[Any, Any], people: People
) -> None:
    first = await connect(hub_client, people.alice)
    second = await connect(hub_client, people.alice, how="query")

    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await hub_client.ws_connect(HUB_PATH, headers=people.alice.headers)
    assert refused.value.status == 429
    status, body, retry_after = await _handshake_status(hub_client, people.alice)
    assert status == 429
    assert body["error"]["code"] == "too_many_sockets"
    assert body["error"]["details"] == {"max_sockets_per_user": 2}
    assert retry_after == "1"

    other = await connect(hub_client, people.bob)  # the limit is per user
    await other.ws.close()
    await first.ws.close()
    async with asyncio.timeout(10):
        while hub_of(hub_client).sockets_of(people.alice.id) > 1:  # noqa: ASYNC110 - the server side ends a bit later
            await asyncio.sleep(0.02)
    third = await connect(hub_client, people.alice)  # a closed socket frees its place
    await third.ws.close()
    await second.ws.close()


async def test_a_socket_authenticating_by_frame_beyond_the_limit_is_closed_with_4429(
    hub_client: TestClient[Any, Any], people: People
) -> None:
    held = [await connect(hub_client, people.bob, how="frame") for _ in range(2)]
    ws = await hub_client.ws_connect(HUB_PATH)
    sock = Socket(ws)
    await sock.send({"op": "auth", "token": people.bob.token})
    assert await sock.closed() == CloseCode.TOO_MANY_SOCKETS
    assert "hub.max_sockets_per_user" in sock.close_reason
    for s in held:
        await s.ws.close()


async def test_a_snapshot_caps_each_jobs_warnings_and_says_so(
    hub_client: TestClient[Any, Any], people: People, jobs: Jobs
) -> None:
    dataset_id, pipeline_id = await jobs.pipeline(people.alice)
    async with jobs.sessions.begin() as session:
        created = await create_job(
            session, pipeline_id=pipeline_id, node_id="train-1", dataset_source_id=dataset_id, user_id=people.alice.id,
            model_type="logistic_regression", hyperparameters={},
            warnings=[{"code": "w", "message": f"warning {n}"} for n in range(50)],
        )
    sock = await connect(hub_client, people.alice)

    snapshot = await sock.subscribe([{"job_id": created.job.id}])

    [row] = snapshot["jobs"]
    assert [w["message"] for w in row["warnings"]] == ["warning 0", "warning 1", "warning 2"]
    assert row["warnings_total"] == 50
    assert row["warnings_truncated"] is True
    rest = await hub_client.get(f"/ml-workflow/api/training-jobs/{created.job.id}", headers=people.alice.headers)
    assert len((await rest.json())["warnings"]) == 50  # the REST job keeps them all


async def test_sockets_of_one_user_share_a_snapshot_until_an_event_of_that_user(
    settings: Settings, people: People, jobs: Jobs, aiohttp_client: ClientFactory
) -> None:
    hub_client = await aiohttp_client(hub_app(settings, dataclasses.replace(LIMITED, max_sockets_per_user=0)))
    await hub_of(hub_client).fanout.wait_for(RedisState.UP)
    pipeline = await jobs.pipeline(people.alice)
    job_id = await jobs.create(people.alice, pipeline, publish=False)
    hub = hub_of(hub_client)
    first = await connect(hub_client, people.alice)
    await first.subscribe([{"user": "me"}])
    reads = hub.snapshots.reads
    second = await connect(hub_client, people.alice)
    shared = await second.subscribe([{"user": "me"}])
    assert hub.snapshots.reads == reads  # served from the first socket's read
    assert [row["id"] for row in shared["jobs"]] == [job_id]

    await jobs.move(people.alice, job_id, "running")
    await first.wait_seq(job_id, 2)
    await second.wait_seq(job_id, 2)
    third = await connect(hub_client, people.bob)
    await third.subscribe([{"user": "me"}])
    fresh = await connect(hub_client, people.alice, how="query")
    latest = await fresh.subscribe([{"user": "me"}])
    assert [row["status"] for row in latest["jobs"]] == ["running"]  # the event dropped the shared copy
    assert hub.snapshots.reads == reads + 2
    for sock in (first, second, third, fresh):
        await sock.ws.close()


def test_the_hub_limits_come_from_the_settings(settings: Settings) -> None:
    from server.hub import config_from_settings

    custom = dataclasses.replace(
        settings, hub=dataclasses.replace(settings.hub, max_sockets_per_user=7, snapshot_warnings_per_job=4)
    )
    config = config_from_settings(custom)
    assert (config.max_sockets_per_user, config.snapshot_warnings_per_job) == (7, 4)
    assert HubConfig().max_sockets_per_user == settings.hub.max_sockets_per_user


async def test_a_revocation_message_closes_the_sockets_of_the_token_at_once(
    hub_client: TestClient[Any, Any], people: People
) -> None:
    from server.keys import REDIS, SESSIONS
    from server.revocation import publish_revocation
    from store.users import hash_token, revoke_token

    sock = await connect(hub_client, people.alice)
    other = await connect(hub_client, people.bob)
    assert hub_client.app is not None
    async with hub_client.app[SESSIONS].begin() as session:
        assert await revoke_token(session, people.alice.token)
    await publish_revocation(hub_client.app[REDIS], token_sha256=hash_token(people.alice.token))

    assert await sock.closed() == CloseCode.UNAUTHORIZED  # long before the 30 s re-check
    await other.sync()  # bob's socket is untouched
    await other.ws.close()
