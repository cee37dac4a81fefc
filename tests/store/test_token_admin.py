"""Token management in the store: users with live-token counts, tokens by prefix, revocation (both databases)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.errors import Conflict, InvalidInput, NotFound
from store.models import ApiToken
from store.users import (
    PREFIX_CHARS,
    authenticate,
    create_user,
    issue_token,
    list_tokens,
    list_users,
    revoke_token_by_prefix,
)


async def test_users_are_listed_with_their_live_tokens_and_tokens_keep_only_a_prefix_in_clear(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory.begin() as session:
        erin, first = await create_user(session, "erin")
        await create_user(session, "frank", is_admin=True)
        second = await issue_token(session, erin.id, expires_in=dt.timedelta(days=1))
        expired = await issue_token(session, erin.id, expires_in=dt.timedelta(days=1))
        await session.execute(
            update(ApiToken).where(ApiToken.token_prefix == expired[:PREFIX_CHARS]).values(
                expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
            )
        )
    async with session_factory() as session:
        summaries = {s.user.name: s.live_tokens for s in await list_users(session)}
        tokens = await list_tokens(session, user_id=erin.id)
    assert summaries == {"erin": 2, "frank": 1}
    assert {t.token_prefix for t, _ in tokens} == {first[:8], second[:8], expired[:8]}
    assert all(user.name == "erin" for _, user in tokens)


async def test_a_token_is_revoked_by_its_prefix_or_id_and_a_shared_prefix_is_refused(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory.begin() as session:
        gina, token = await create_user(session, "gina")
        other = await issue_token(session, gina.id)
    async with session_factory.begin() as session:
        row = await revoke_token_by_prefix(session, token[:PREFIX_CHARS])
    assert row.revoked_at is not None
    async with session_factory.begin() as session:
        assert await authenticate(session, token) is None
        assert await authenticate(session, other) is not None
        with pytest.raises(NotFound):
            await revoke_token_by_prefix(session, token[:PREFIX_CHARS])
        with pytest.raises(InvalidInput):
            await revoke_token_by_prefix(session, " ")
        # Two live tokens with one prefix (as a pre-prefix token revoked by id would need): refused.
        await session.execute(update(ApiToken).values(token_prefix="samepref", revoked_at=None))
        with pytest.raises(Conflict):
            await revoke_token_by_prefix(session, "samepref")
        ids = [t.id for t, _ in await list_tokens(session)]
        assert (await revoke_token_by_prefix(session, ids[0])).id == ids[0]


async def test_no_new_token_starts_with_a_dash_so_its_prefix_is_never_read_as_an_option(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory.begin() as session:
        user, first = await create_user(session, "dash")
        tokens = [first] + [await issue_token(session, user.id) for _ in range(300)]
    assert [t for t in tokens if t.startswith("-")] == []
