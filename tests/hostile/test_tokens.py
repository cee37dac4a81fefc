"""Token expiry and revocation: the store, the migration that added ``expires_at``, the REST
API, the websocket hub and ``mlw users create --expires-in``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient
from sqlalchemy import inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.cli import main
from server.hub import CloseCode, RedisState
from store import migrate
from store.engine import create_engine, create_session_factory
from store.errors import InvalidInput
from store.models import ApiToken
from store.settings import Settings
from store.types import utcnow
from store.users import authenticate, create_user, hash_token, issue_token, revoke_token
from tests.hostile.footprint import footprint
from tests.server.conftest import API, ClientFactory, People, Person
from tests.server.hub_helpers import TEST_CONFIG, hub_app, hub_of

DAY = dt.timedelta(days=1)
_T = TypeVar("_T")


def in_thread(fn: Callable[..., _T], *args: Any) -> _T:
    """Run ``fn`` in a thread of its own: the CLI's asyncio.run must not reset pytest-asyncio's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


async def test_a_token_with_an_expiry_works_until_it_and_is_refused_from_then_on(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory.begin() as session:
        user, token = await create_user(session, "ivy", expires_in=DAY)
        forever = await issue_token(session, user.id)
        row = (await session.scalars(select(ApiToken).where(ApiToken.token_sha256 == hash_token(token)))).one()
    assert row.expires_at is not None
    assert abs(row.expires_at - (row.created_at + DAY)) < dt.timedelta(seconds=1)
    async with session_factory.begin() as session:
        assert await authenticate(session, token, now=row.expires_at - dt.timedelta(seconds=1)) is not None
        assert await authenticate(session, token, now=row.expires_at) is None
        assert await authenticate(session, token, now=row.expires_at + 365 * DAY) is None
        assert await authenticate(session, forever, now=row.expires_at + 365 * DAY) is not None


@pytest.mark.parametrize("bad", [dt.timedelta(0), -DAY, 4000 * DAY, 3])
async def test_a_bad_expiry_is_refused_naming_expires_in(
    session_factory: async_sessionmaker[AsyncSession], bad: Any
) -> None:
    async with session_factory.begin() as session:
        with pytest.raises(InvalidInput) as err:
            await create_user(session, "jon", expires_in=bad)
        assert err.value.field == "expires_in"
        user, _ = await create_user(session, "jon")
        with pytest.raises(InvalidInput):
            await issue_token(session, user.id, expires_in=bad)


async def test_migration_0002_adds_expires_at_keeps_existing_tokens_valid_and_downgrades(database_url: str) -> None:
    await migrate.upgrade_async(database_url, "0001")
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO users (id, name, is_admin, created_at) VALUES ('u1', 'old', false, :t)"),
                {"t": utcnow()},
            )
            await conn.execute(
                text("INSERT INTO api_tokens (id, user_id, token_sha256, created_at) VALUES ('t1', 'u1', :h, :t)"),
                {"h": hash_token("old-token"), "t": utcnow()},
            )
        # Up to the newest revision: the ORM (authenticate) maps every column added since.
        await migrate.upgrade_async(database_url)
        async with create_session_factory(engine).begin() as session:
            found = await authenticate(session, "old-token")
        assert found is not None and found.name == "old"
        await migrate.downgrade_async(database_url, "0001")
        async with engine.connect() as conn:
            columns = await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("api_tokens")})
            kept = (await conn.execute(text("SELECT count(*) FROM api_tokens"))).scalar_one()
        assert "expires_at" not in columns and kept == 1
        await migrate.upgrade_async(database_url)
        assert await migrate.current_async(database_url) == migrate.head_revision()
    finally:
        await engine.dispose()


async def _expire(settings: Settings, who: Person) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine).begin() as session:
            await session.execute(
                update(ApiToken)
                .where(ApiToken.token_sha256 == hash_token(who.token))
                .values(expires_at=utcnow() - dt.timedelta(seconds=1))
            )
    finally:
        await engine.dispose()


async def _revoke(settings: Settings, who: Person) -> None:
    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine).begin() as session:
            assert await revoke_token(session, who.token)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("how", ["expired", "revoked"])
async def test_an_expired_or_revoked_token_gets_a_401_naming_the_authorization_header_everywhere(
    client: TestClient[Any, Any], people: People, settings: Settings, how: str
) -> None:
    resp = await client.get(f"{API}/datasets", headers=people.alice.headers)
    assert resp.status == 200
    await (_expire if how == "expired" else _revoke)(settings, people.alice)
    before = await footprint(settings)

    for method, path in [("GET", "/datasets"), ("GET", "/users/me/training-jobs"), ("PUT", "/pipelines"),
                         ("POST", "/training-jobs"), ("GET", "/openapi.json")]:
        resp = await client.request(method, f"{API}{path}", json={}, headers=people.alice.headers)
        error = (await resp.json())["error"]
        assert resp.status == 401, (path, error)
        assert resp.headers["WWW-Authenticate"] == "Bearer"
        assert error["details"]["field"] == "Authorization"
        assert "revoked" in error["message"] and "expired" in error["message"]

    resp = await client.get(f"{API}/datasets", headers=people.bob.headers)
    assert resp.status == 200  # other users' tokens are unaffected
    assert (await footprint(settings)).added_since(before) == {}


@pytest.mark.parametrize("how", ["expired", "revoked"])
async def test_an_expired_or_revoked_token_cannot_open_a_websocket(
    settings: Settings, people: People, aiohttp_client: ClientFactory, how: str
) -> None:
    client = await aiohttp_client(hub_app(settings))
    await hub_of(client).fanout.wait_for(RedisState.UP)
    await (_expire if how == "expired" else _revoke)(settings, people.alice)

    for kwargs in ({"headers": people.alice.headers}, {"params": {"token": people.alice.token}}):
        ws = await client.ws_connect("/ml-workflow/ws", **kwargs)
        msg = await ws.receive()
        assert ws.close_code == CloseCode.UNAUTHORIZED
        assert "expired" in str(msg.extra)


@pytest.mark.parametrize("how", ["expired", "revoked"])
async def test_an_open_websocket_is_closed_once_its_token_is_revoked_or_expires(
    settings: Settings, people: People, aiohttp_client: ClientFactory, how: str
) -> None:
    config = dataclasses.replace(TEST_CONFIG, reauth_interval_s=0.2)
    client = await aiohttp_client(hub_app(settings, config))
    await hub_of(client).fanout.wait_for(RedisState.UP)
    alice = await client.ws_connect("/ml-workflow/ws", headers=people.alice.headers)
    bob = await client.ws_connect("/ml-workflow/ws", headers=people.bob.headers)
    for ws in (alice, bob):
        assert (await ws.receive_json(timeout=5))["type"] == "welcome"

    await (_expire if how == "expired" else _revoke)(settings, people.alice)
    msg = await alice.receive(timeout=5)
    assert msg.type is WSMsgType.CLOSE
    assert alice.close_code == CloseCode.UNAUTHORIZED
    assert "revoked or has expired" in str(msg.extra)
    await asyncio.sleep(0.5)  # two more checks: other users' sockets stay open
    assert not bob.closed
    await bob.send_json({"op": "ping", "ref": "still-there"})
    assert (await bob.receive_json(timeout=5))["type"] == "pong"
    await bob.close()


def test_mlw_users_create_with_expires_in_prints_a_token_that_expires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "cli.db"
    monkeypatch.setenv("MLW_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    monkeypatch.setenv("MLW_DATA_DIR", str(tmp_path / "data"))

    assert in_thread(main, ["users", "create", "kim", "--expires-in", "2"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    token = out[-1]
    assert "expires in 2 day(s)" in "\n".join(out)

    async def check() -> tuple[dt.datetime | None, dt.datetime]:
        engine = create_engine(f"sqlite+aiosqlite:///{database}")
        try:
            async with create_session_factory(engine)() as session:
                row = (await session.scalars(select(ApiToken).where(ApiToken.token_sha256 == hash_token(token)))).one()
            return row.expires_at, row.created_at
        finally:
            await engine.dispose()

    expires_at, created_at = in_thread(asyncio.run, check())
    assert expires_at is not None and abs(expires_at - created_at - 2 * DAY) < dt.timedelta(seconds=1)


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "nan", "4000"])
def test_mlw_users_create_refuses_a_bad_expires_in_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    monkeypatch.setenv("MLW_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("MLW_DATA_DIR", str(tmp_path / "data"))

    with pytest.raises(SystemExit) as exit_:
        in_thread(main, ["users", "create", "lea", "--expires-in", bad])

    assert exit_.value.code == 2
    assert "--expires-in" in capsys.readouterr().err
    assert not (tmp_path / "cli.db").exists()
