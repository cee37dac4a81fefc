"""``mlw users ...`` and ``mlw tokens ...``: accounts and API tokens from the command line.

A command that creates a token prints it as its last line (scripts read it there). A
revocation is published on ``mlw:auth:revoked`` (see :mod:`server.revocation`) so web
processes forget the token at once; open websockets are closed within the hub's reauth
interval in any case.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TypeVar

from server.revocation import publish_revocation_sync
from store.engine import Session
from store.models import ApiToken
from store.settings import Settings

T = TypeVar("T")


def _in_transaction(settings: Settings, work: Callable[[Session], Awaitable[T]]) -> T:
    from store.engine import create_engine, create_session_factory

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with create_session_factory(engine).begin() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "-"


def _state(token: ApiToken, now: dt.datetime) -> str:
    if token.revoked_at is not None:
        return f"revoked {_when(token.revoked_at)}"
    if token.expires_at is not None and token.expires_at <= now:
        return f"expired {_when(token.expires_at)}"
    return "live" if token.expires_at is None else f"live until {_when(token.expires_at)}"


def _expiry(days: float | None) -> dt.timedelta | None:
    return dt.timedelta(days=days) if days is not None else None


def _announce(settings: Settings, what: str, **target: str) -> None:
    if publish_revocation_sync(settings, **target):
        print(f"{what}; running web processes were told at once")
    else:
        print(f"{what}; open connections end within the hub's reauth interval (no Redis reachable to tell them now)")


def users_create(settings: Settings, args: argparse.Namespace) -> int:
    from store.users import create_user

    async def work(session: Session) -> str:
        user, token = await create_user(session, args.name, is_admin=args.admin, expires_in=_expiry(args.expires_in))
        print(f"created {'admin ' if user.is_admin else ''}user {user.name!r} (id {user.id})")
        return token

    token = _in_transaction(settings, work)
    if args.expires_in is not None:
        print(f"the token expires in {args.expires_in:g} day(s)")
    print(f"API token {token[:8]}... (shown once; keep it secret):")
    print(token)
    return 0


def users_list(settings: Settings, args: argparse.Namespace) -> int:
    from store.users import list_users

    summaries = _in_transaction(settings, list_users)
    print(f"{'NAME':<24} {'ADMIN':<5} {'LIVE TOKENS':>11}  {'CREATED':<16}  ID")
    for summary in summaries:
        user = summary.user
        admin = "yes" if user.is_admin else "no"
        print(f"{user.name:<24} {admin:<5} {summary.live_tokens:>11}  {_when(user.created_at):<16}  {user.id}")
    return 0


def users_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from store.users import get_user_named, revoke_user_tokens

    async def work(session: Session) -> tuple[str, int]:
        user = await get_user_named(session, args.name)
        return user.id, await revoke_user_tokens(session, user.id)

    user_id, count = _in_transaction(settings, work)
    _announce(settings, f"revoked {count} token(s) of user {args.name!r}", user_id=user_id)
    return 0


def tokens_create(settings: Settings, args: argparse.Namespace) -> int:
    from store.users import get_user_named, issue_token

    async def work(session: Session) -> str:
        user = await get_user_named(session, args.name)
        return await issue_token(session, user.id, expires_in=_expiry(args.expires_in))

    token = _in_transaction(settings, work)
    expiry = f", expires in {args.expires_in:g} day(s)" if args.expires_in is not None else ""
    print(f"new token {token[:8]} for user {args.name!r}{expiry} (shown once; keep it secret):")
    print(token)
    return 0


def tokens_list(settings: Settings, args: argparse.Namespace) -> int:
    from store.types import utcnow
    from store.users import get_user_named, list_tokens

    async def work(session: Session) -> list[tuple[ApiToken, str]]:
        user_id = (await get_user_named(session, args.name)).id if args.name else None
        return [(token, user.name) for token, user in await list_tokens(session, user_id=user_id)]

    rows = _in_transaction(settings, work)
    now = utcnow()
    print(f"{'PREFIX':<8}  {'USER':<24} {'CREATED':<16}  {'LAST USED':<16}  STATE / ID")
    for token, name in rows:
        prefix = token.token_prefix or "-"
        state = f"{_state(token, now)}  {token.id}"
        print(f"{prefix:<8}  {name:<24} {_when(token.created_at):<16}  {_when(token.last_used_at):<16}  {state}")
    return 0


def tokens_revoke(settings: Settings, args: argparse.Namespace) -> int:
    from store.users import revoke_token_by_prefix

    async def work(session: Session) -> str:
        return (await revoke_token_by_prefix(session, args.prefix)).token_sha256

    digest = _in_transaction(settings, work)
    _announce(settings, f"revoked token {args.prefix}", token_sha256=digest)
    return 0


_COMMANDS: dict[tuple[str, str], Callable[[Settings, argparse.Namespace], int]] = {
    ("users", "create"): users_create,
    ("users", "list"): users_list,
    ("users", "revoke"): users_revoke,
    ("tokens", "create"): tokens_create,
    ("tokens", "list"): tokens_list,
    ("tokens", "revoke"): tokens_revoke,
}


def run_accounts(settings: Settings, args: argparse.Namespace) -> int:
    """Run ``mlw users ACTION`` or ``mlw tokens ACTION``; returns the exit status."""
    action = args.users_command if args.command == "users" else args.tokens_command
    return _COMMANDS[(args.command, action)](settings, args)
