"""``/admin/tokens``: admins list, create and revoke tokens; revocation reaches caches and open sockets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from server.hub import HubConfig, RedisState
from server.revocation import REVOCATION_CHANNEL
from store.settings import Settings
from store.users import hash_token
from tests.server.conftest import API, ClientFactory, People
from tests.server.hub_helpers import TEST_CONFIG, connect, hub_app, hub_of

TOKENS = f"{API}/admin/tokens"


@pytest.fixture
async def revocations(redis_url: str) -> AsyncIterator[Any]:
    conn = aioredis.Redis.from_url(redis_url)
    pubsub = conn.pubsub()
    await pubsub.subscribe(REVOCATION_CHANNEL)
    assert (await pubsub.get_message(timeout=5))["type"] == "subscribe"
    try:
        yield pubsub
    finally:
        await pubsub.aclose()
        await conn.aclose()


async def _next_revocation(pubsub: Any) -> dict[str, Any]:
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
    assert message is not None, "no revocation was published"
    return dict(json.loads(message["data"]))


async def test_only_admins_may_use_the_token_api(client: TestClient[Any, Any], people: People) -> None:
    for method, kwargs in (("GET", {}), ("POST", {"json": {"user": "alice"}}), ("DELETE", {"params": {"user": "bob"}})):
        resp = await client.request(method, TOKENS, headers=people.alice.headers, **kwargs)
        assert resp.status == 403, method
        assert (await resp.json())["error"]["code"] == "admin_only"
        assert (await client.request(method, TOKENS, **kwargs)).status == 401
    assert (await client.get(f"{API}/datasets", headers=people.bob.headers)).status == 200  # bob still works


async def test_an_admin_creates_lists_and_revokes_tokens(
    client: TestClient[Any, Any], people: People, revocations: Any
) -> None:
    resp = await client.post(TOKENS, json={"user": "alice", "expires_in_days": 1}, headers=people.admin.headers)
    assert resp.status == 201
    created = await resp.json()
    token, info = created["token"], created["info"]
    assert info["prefix"] == token[:8] and info["user_name"] == "alice" and info["live"] and info["expires_at"]
    assert (await client.get(f"{API}/datasets", headers={"Authorization": f"Bearer {token}"})).status == 200

    listing = await (await client.get(TOKENS, params={"user": "alice"}, headers=people.admin.headers)).json()
    assert {item["prefix"] for item in listing["items"]} == {token[:8], people.alice.token[:8]}
    assert token not in json.dumps(listing) and people.alice.token not in json.dumps(listing)
    everyone = await (await client.get(TOKENS, headers=people.admin.headers)).json()
    assert {item["user_name"] for item in everyone["items"]} == {"alice", "bob", "admin"}

    resp = await client.delete(TOKENS, params={"prefix": token[:8]}, headers=people.admin.headers)
    assert resp.status == 200 and await resp.json() == {"revoked": 1}
    assert await _next_revocation(revocations) == {"token_sha256": hash_token(token)}
    assert (await client.get(f"{API}/datasets", headers={"Authorization": f"Bearer {token}"})).status == 401
    assert (await client.get(f"{API}/datasets", headers=people.alice.headers)).status == 200
    resp = await client.delete(TOKENS, params={"prefix": token[:8]}, headers=people.admin.headers)
    assert resp.status == 404

    resp = await client.delete(TOKENS, params={"user": "alice"}, headers=people.admin.headers)
    assert await resp.json() == {"revoked": 1}
    assert await _next_revocation(revocations) == {"user_id": people.alice.id}
    assert (await client.get(f"{API}/datasets", headers=people.alice.headers)).status == 401


async def test_bad_token_requests_name_the_field(client: TestClient[Any, Any], people: People) -> None:
    admin = people.admin.headers
    cases: list[tuple[str, dict[str, Any], int]] = [
        ("POST", {"json": {"user": "nobody"}}, 404),
        ("POST", {"json": {"user": "alice", "expires_in_days": 0}}, 422),
        ("POST", {"json": {"user": "alice", "extra": 1}}, 422),
        ("DELETE", {}, 422),
        ("DELETE", {"params": {"prefix": "abc", "user": "alice"}}, 422),
        ("DELETE", {"params": {"user": "nobody"}}, 404),
        ("GET", {"params": {"user": "nobody"}}, 404),
    ]
    for method, kwargs, status in cases:
        resp = await client.request(method, TOKENS, headers=admin, **kwargs)
        assert resp.status == status, (method, kwargs, await resp.text())
        assert set((await resp.json())["error"]) == {"code", "message", "details"}


async def test_revoking_closes_the_open_websockets_of_that_token_within_the_reauth_interval(
    settings: Settings, people: People, aiohttp_client: ClientFactory
) -> None:
    config = HubConfig(**{**TEST_CONFIG.__dict__, "reauth_interval_s": 0.5})
    client = await aiohttp_client(hub_app(settings, config))
    await hub_of(client).fanout.wait_for(RedisState.UP)
    alice = await connect(client, people.alice, how="frame")
    bob = await connect(client, people.bob)
    resp = await client.delete(TOKENS, params={"prefix": people.alice.token[:8]}, headers=people.admin.headers)
    assert resp.status == 200
    assert await alice.closed(wait_s=10) == 4401
    await bob.sync()  # bob's socket is untouched
