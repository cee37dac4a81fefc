"""Authentication never writes: a token cache, read transactions, ``last_used_at`` in batches,
and revocations that reach every web process through Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from server.app import create_app
from server.keys import AUTH, REDIS, SESSIONS
from server.revocation import Revocation, parse_revocation, publish_revocation
from store.engine import read_session
from store.models import ApiToken
from store.settings import Settings
from store.users import hash_token, revoke_token, revoke_user_tokens
from tests.server.conftest import API, ClientFactory, People, RecordingSender

LOCK_GUARD_S = 20.0
"""Shorter than SQLite's 30 s busy timeout: a GET that waited for the lock would fail here."""


def _with_ttl(settings: Settings, ttl_s: float) -> Settings:
    return dataclasses.replace(settings, server=dataclasses.replace(settings.server, auth_cache_ttl_s=ttl_s))


@pytest.fixture
def write_lock(settings: Settings) -> Iterator[sqlite3.Connection]:
    """Another connection holding SQLite's write lock (``BEGIN IMMEDIATE``) for the whole test."""
    path = settings.database_url.split("///", 1)[1]
    conn = sqlite3.connect(path, isolation_level=None, timeout=0.1)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


async def _last_used(client: TestClient[Any, Any], token: str) -> dt.datetime | None:
    assert client.app is not None
    async with read_session(client.app[SESSIONS]) as session:
        stmt = select(ApiToken.last_used_at).where(ApiToken.token_sha256 == hash_token(token))
        return (await session.scalars(stmt)).one()


async def test_a_get_with_a_token_never_seen_succeeds_while_another_connection_holds_the_write_lock(
    client: TestClient[Any, Any], people: People, write_lock: sqlite3.Connection
) -> None:
    async with asyncio.timeout(LOCK_GUARD_S):
        response = await client.get(f"{API}/datasets", headers=people.alice.headers)
        again = await client.get(f"{API}/users/me/training-jobs", headers=people.alice.headers)
    assert response.status == 200, await response.text()
    assert again.status == 200, await again.text()


async def test_an_unknown_token_is_refused_while_the_write_lock_is_held(
    client: TestClient[Any, Any], people: People, write_lock: sqlite3.Connection
) -> None:
    async with asyncio.timeout(LOCK_GUARD_S):
        response = await client.get(f"{API}/datasets", headers={"Authorization": "Bearer not-a-token"})
    assert response.status == 401


async def test_last_used_at_is_written_in_the_background_at_most_once_a_minute(
    client: TestClient[Any, Any], people: People
) -> None:
    assert client.app is not None
    recorder = client.app[AUTH].recorder
    assert recorder is not None
    assert await _last_used(client, people.bob.token) is None

    for _ in range(5):
        assert (await client.get(f"{API}/datasets", headers=people.bob.headers)).status == 200
    assert await _last_used(client, people.bob.token) is None  # not written on the request path
    assert await recorder.flush() == 1
    first = await _last_used(client, people.bob.token)
    assert first is not None

    for _ in range(5):
        assert (await client.get(f"{API}/datasets", headers=people.bob.headers)).status == 200
    assert recorder.pending == 0  # the same token within a minute is not noted again
    assert await recorder.flush() == 0
    assert await _last_used(client, people.bob.token) == first


async def test_a_request_waits_for_no_last_used_write_while_the_write_lock_is_held(
    client: TestClient[Any, Any], people: People, write_lock: sqlite3.Connection
) -> None:
    async with asyncio.timeout(LOCK_GUARD_S):
        for _ in range(3):
            assert (await client.get(f"{API}/datasets", headers=people.alice.headers)).status == 200
    assert client.app is not None
    assert client.app[AUTH].recorder is not None
    assert client.app[AUTH].recorder.pending == 1  # noted, to be written once the lock is free


async def _two_processes(
    settings: Settings, aiohttp_client: ClientFactory
) -> tuple[TestClient[Any, Any], TestClient[Any, Any]]:
    """Two web applications on one database and one Redis, each with its own token cache,
    as two ``mlw serve --no-worker`` processes would be; a long TTL, so only a message evicts."""
    long_ttl = _with_ttl(settings, 3600.0)
    apps: list[web.Application] = [create_app(long_ttl, sender=RecordingSender()) for _ in range(2)]
    first, second = [await aiohttp_client(app) for app in apps]
    for client in (first, second):
        assert client.app is not None
        await _subscribed(client)
    return first, second


async def _subscribed(client: TestClient[Any, Any]) -> None:
    """Wait until the app's revocation subscription is up (it starts in the background)."""
    assert client.app is not None
    listener_up = client.app[AUTH].subscribed
    async with asyncio.timeout(10):
        await listener_up.wait()


async def _status_soon(client: TestClient[Any, Any], headers: dict[str, str], status: int) -> int:
    """Poll until the answer is ``status`` (messages are asynchronous); returns the last status seen."""
    seen = 0
    async with asyncio.timeout(10):
        while seen != status:
            seen = (await client.get(f"{API}/datasets", headers=headers)).status
            if seen != status:
                await asyncio.sleep(0.02)
    return seen


async def test_a_token_revoked_in_one_process_stops_working_at_once_in_another_despite_a_long_ttl(
    settings: Settings, people: People, aiohttp_client: ClientFactory
) -> None:
    first, second = await _two_processes(settings, aiohttp_client)
    for client in (first, second):
        assert (await client.get(f"{API}/datasets", headers=people.alice.headers)).status == 200  # cached now
    assert first.app is not None
    async with first.app[SESSIONS].begin() as session:
        assert await revoke_token(session, people.alice.token)

    # Without the message, the cache (TTL one hour) would keep the token working.
    assert (await second.get(f"{API}/datasets", headers=people.alice.headers)).status == 200
    assert await publish_revocation(first.app[REDIS], token_sha256=hash_token(people.alice.token))
    assert await _status_soon(second, people.alice.headers, 401) == 401
    assert await _status_soon(first, people.alice.headers, 401) == 401
    assert (await second.get(f"{API}/datasets", headers=people.bob.headers)).status == 200


async def test_revoking_a_users_tokens_is_announced_by_user_id(
    settings: Settings, people: People, aiohttp_client: ClientFactory
) -> None:
    first, second = await _two_processes(settings, aiohttp_client)
    assert (await second.get(f"{API}/datasets", headers=people.bob.headers)).status == 200
    assert first.app is not None
    async with first.app[SESSIONS].begin() as session:
        assert await revoke_user_tokens(session, people.bob.id) == 1
    await publish_revocation(first.app[REDIS], user_id=people.bob.id)
    assert await _status_soon(second, people.bob.headers, 401) == 401
    assert second.app is not None
    assert all(entry_user != people.bob.id for entry_user in _cached_users(second))


def _cached_users(client: TestClient[Any, Any]) -> list[str]:
    assert client.app is not None
    cache = client.app[AUTH].cache
    return [entry.user_id for _, entry in cache._entries.values()]


@pytest.mark.parametrize(
    "message",
    [b"{}", b'{"token_sha256": "aa", "user_id": "u"}', b'{"token_sha256": "not-hex"}', b'{"user_id": ""}', b"[1]",
     b"not json"],
)
def test_a_malformed_revocation_message_is_ignored(message: bytes) -> None:
    assert parse_revocation(message) is None


def test_a_revocation_message_names_a_token_or_a_user() -> None:
    assert parse_revocation(b'{"token_sha256": "' + b"a" * 64 + b'"}') == Revocation(token_sha256="a" * 64)
    assert parse_revocation(b'{"user_id": "u-1"}') == Revocation(user_id="u-1")


async def test_a_websocket_handshake_with_a_new_token_succeeds_while_the_write_lock_is_held(
    settings: Settings, people: People, aiohttp_client: ClientFactory, write_lock: sqlite3.Connection
) -> None:
    from tests.server.hub_helpers import connect, hub_app

    client = await aiohttp_client(hub_app(settings))
    async with asyncio.timeout(LOCK_GUARD_S):
        sock = await connect(client, people.bob)  # a 101 and a welcome, no 5xx, no wait for the lock
        await sock.ws.close()


def test_a_busy_database_is_a_503_with_retry_after_never_a_500() -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from server.errors import to_api_error
    from server.middleware import error_response
    from store.errors import StoreBusy

    for exc in (StoreBusy("no write turn within 30 s"), PoolTimeout("QueuePool limit reached")):
        error = to_api_error(exc)
        assert (error.status, error.code) == (503, "database_busy")
    assert error_response(to_api_error(StoreBusy("x"))).status == 503

