"""Users and tokens: hashed storage, revocation, constant-time comparison (both databases)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.errors import DuplicateName, InvalidInput, NotFound
from store.models import ApiToken
from store.users import authenticate, create_user, issue_token, revoke_token, revoke_user_tokens


async def test_a_new_user_gets_a_token_that_is_stored_only_as_its_sha256(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory.begin() as session:
        user, token = await create_user(session, "  carol ", is_admin=True)
    assert user.name == "carol" and user.is_admin
    assert len(token) >= 40
    async with session_factory() as session:
        rows = (await session.execute(text("SELECT * FROM api_tokens"))).mappings().all()
        users = (await session.execute(text("SELECT * FROM users"))).mappings().all()
    assert [r["token_sha256"] for r in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    stored = [str(v) for row in [*rows, *users] for v in row.values()]
    assert not any(token in value for value in stored)


async def test_a_duplicate_user_name_is_a_clear_error_and_the_transaction_goes_on(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory.begin() as session:
        await create_user(session, "dave")
    async with session_factory.begin() as session:
        with pytest.raises(DuplicateName) as err:
            await create_user(session, "dave")
        assert "dave" in str(err.value)
        other, _ = await create_user(session, "erin")
    assert other.name == "erin"
    async with session_factory.begin() as session:
        with pytest.raises(InvalidInput) as bad:
            await create_user(session, "   ")
    assert bad.value.field == "name"


async def test_authenticate_finds_the_user_and_records_last_use(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory.begin() as session:
        user, token = await create_user(session, "fay")
        second = await issue_token(session, user.id)
        with pytest.raises(NotFound):
            await issue_token(session, "no-such-user")
    async with session_factory.begin() as session:
        found = await authenticate(session, token)
        also = await authenticate(session, second)
        assert await authenticate(session, token + "x") is None
        assert await authenticate(session, "") is None
    assert found is not None and found.id == user.id
    assert also is not None and also.id == user.id
    async with session_factory() as session:
        used = (await session.scalars(select(ApiToken.last_used_at))).all()
    assert all(isinstance(u, dt.datetime) for u in used)


async def test_a_revoked_token_is_refused_and_others_keep_working(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory.begin() as session:
        user, token = await create_user(session, "gus")
        spare = await issue_token(session, user.id)
        assert await revoke_token(session, token) is True
        assert await revoke_token(session, token) is False
    async with session_factory.begin() as session:
        assert await authenticate(session, token) is None
        assert await authenticate(session, spare) is not None
        assert await revoke_user_tokens(session, user.id) == 1
        assert await authenticate(session, spare) is None


async def test_the_stored_hash_is_compared_in_constant_time(
    session_factory: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with session_factory.begin() as session:
        _, token = await create_user(session, "hal")
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    async with session_factory.begin() as session:
        assert await authenticate(session, token) is not None
    digest = hashlib.sha256(token.encode()).hexdigest().encode()
    assert calls == [(digest, digest)]
