"""Users and their API tokens. Only a token's sha256 is stored; the token is shown once."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import Conflict, DuplicateName, InvalidInput, NotFound
from store.models import ApiToken, User
from store.types import utcnow

MAX_NAME = 200
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)
MAX_EXPIRES_IN = dt.timedelta(days=3650)
PREFIX_CHARS = 8
"""A token is shown, listed and revoked by its first characters (48 bits: unique in practice)."""


def token_prefix(token: str) -> str:
    """The first :data:`PREFIX_CHARS` characters of ``token``, kept in clear beside its hash."""
    return token[:PREFIX_CHARS]


def hash_token(token: str) -> str:
    """The sha256 hex digest under which ``token`` is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name", "must be a non-empty string")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise InvalidInput("name", f"must be at most {MAX_NAME} characters")
    return name


def _check_expires_in(expires_in: dt.timedelta | None) -> dt.timedelta | None:
    if expires_in is None:
        return None
    if not isinstance(expires_in, dt.timedelta):
        raise InvalidInput("expires_in", "must be a duration (timedelta) or None")
    if expires_in <= dt.timedelta(0):
        raise InvalidInput("expires_in", "must be positive")
    if expires_in > MAX_EXPIRES_IN:
        raise InvalidInput("expires_in", f"must be at most {MAX_EXPIRES_IN.days} days; use None for no expiry")
    return expires_in


async def create_user(
    session: AsyncSession, name: str, *, is_admin: bool = False, expires_in: dt.timedelta | None = None
) -> tuple[User, str]:
    """Create a user and its first token.

    Args:
        session: A write transaction.
        name: The unique user name.
        is_admin: The user may read every user's objects.
        expires_in: How long the first token stays valid; ``None`` means it never expires.

    Returns:
        The user and the plaintext token (only its hash is stored: show it once).

    Raises:
        DuplicateName: the name is taken.
        InvalidInput: the name is empty or too long, or ``expires_in`` is not positive.
    """
    name = _check_name(name)
    _check_expires_in(expires_in)
    if await get_user_by_name(session, name) is not None:
        raise DuplicateName("user", name)
    user = User(name=name, is_admin=is_admin, created_at=utcnow())
    try:
        # A savepoint keeps the caller's transaction usable when a concurrent insert won.
        async with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise DuplicateName("user", name) from None
    token = await issue_token(session, user.id, expires_in=expires_in)
    return user, token


async def get_user(session: AsyncSession, user_id: str) -> User:
    """The user with ``user_id``.

    Raises:
        NotFound: there is none.
    """
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


async def get_user_by_name(session: AsyncSession, name: str) -> User | None:
    """The user called ``name``, if any."""
    return (await session.scalars(select(User).where(User.name == name))).one_or_none()


async def issue_token(session: AsyncSession, user_id: str, *, expires_in: dt.timedelta | None = None) -> str:
    """Create a new token for ``user_id`` and return it in plaintext (stored hashed).

    Args:
        session: A write transaction.
        user_id: The token's owner.
        expires_in: How long the token stays valid; ``None`` means it never expires.

    Raises:
        NotFound: the user does not exist.
        InvalidInput: ``expires_in`` is not positive or longer than ten years.
    """
    expires_in = _check_expires_in(expires_in)
    await get_user(session, user_id)
    token = secrets.token_urlsafe(32)
    while token.startswith("-"):
        # A prefix is typed as `mlw tokens revoke PREFIX`; one starting with "-" reads as an option.
        token = secrets.token_urlsafe(32)
    now = utcnow()
    expires_at = now + expires_in if expires_in is not None else None
    session.add(
        ApiToken(
            user_id=user_id,
            token_sha256=hash_token(token),
            token_prefix=token_prefix(token),
            created_at=now,
            expires_at=expires_at,
        )
    )
    await session.flush()
    return token


async def revoke_token(session: AsyncSession, token: str) -> bool:
    """Revoke ``token``; returns whether a live token was revoked."""
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.token_sha256 == hash_token(token), ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(ApiToken.id)
    )
    return result.first() is not None


async def revoke_user_tokens(session: AsyncSession, user_id: str) -> int:
    """Revoke every live token of ``user_id``; returns how many."""
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(ApiToken.id)
    )
    return len(result.all())


async def _token_row(session: AsyncSession, token: str) -> ApiToken | None:
    """The row of ``token``: looked up by its hash (so the index never sees the token), and the
    stored hash compared in constant time before it is trusted."""
    if not isinstance(token, str) or not token:
        return None
    digest = hash_token(token)
    row = (await session.scalars(select(ApiToken).where(ApiToken.token_sha256 == digest))).one_or_none()
    if row is None or not hmac.compare_digest(row.token_sha256.encode("ascii"), digest.encode("ascii")):
        return None
    return row


async def _live_token_row(session: AsyncSession, token: str, now: dt.datetime) -> ApiToken | None:
    """The row of ``token`` if it is live: it exists, is not revoked and has not expired."""
    row = await _token_row(session, token)
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and now >= row.expires_at:
        return None
    return row


async def token_row(session: AsyncSession, token: str) -> ApiToken:
    """The stored row of ``token`` (e.g. one just issued), live or not.

    Raises:
        NotFound: no such token.
    """
    row = await _token_row(session, token)
    if row is None:
        raise NotFound("token", token_prefix(token) if isinstance(token, str) else token)
    return row


async def authenticate(session: AsyncSession, token: str, *, now: dt.datetime | None = None) -> User | None:
    """The user owning a live ``token``, or ``None``; records ``last_used_at``.

    A token is live when it exists, is not revoked and has not expired (``expires_at`` in
    the past); the three cases look the same to the caller. ``now`` defaults to the
    current time (tests pass a clock reading). ``last_used_at`` is written at most once
    per :data:`LAST_USED_RESOLUTION`, so call it in a write transaction.
    """
    now = now or utcnow()
    row = await _live_token_row(session, token, now)
    if row is None:
        return None
    # Throttled so that a burst of requests does not turn every read into a write.
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        await session.flush()
    return await session.get(User, row.user_id)


async def resolve_token(
    session: AsyncSession, token: str, *, now: dt.datetime | None = None
) -> tuple[User, ApiToken] | None:
    """The user owning a live ``token`` and the token's row, or ``None``. Read-only.

    The same rules as :func:`authenticate` without writing ``last_used_at``: the web
    process records that later, in batches (see :func:`record_last_used`), so that
    resolving a token never needs a write transaction.
    """
    row = await _live_token_row(session, token, now or utcnow())
    if row is None:
        return None
    user = await session.get(User, row.user_id)
    return None if user is None else (user, row)


async def count_users(session: AsyncSession) -> int:
    """How many users exist (zero on a new installation)."""
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def record_last_used(session: AsyncSession, used_at: Mapping[str, dt.datetime]) -> int:
    """Set ``last_used_at`` of the tokens with these hashes, at most once per :data:`LAST_USED_RESOLUTION`.

    A token whose stored ``last_used_at`` is less than a resolution older than the new
    reading keeps it, so several web processes reporting the same token write it once.
    Call it in a write transaction; returns how many rows changed.
    """
    changed = 0
    for digest, at in sorted(used_at.items()):
        result = await session.execute(
            update(ApiToken)
            .where(
                ApiToken.token_sha256 == digest,
                or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= at - LAST_USED_RESOLUTION),
            )
            .values(last_used_at=at)
            .returning(ApiToken.id)
        )
        changed += len(result.all())
    return changed


async def live_token_hashes(
    session: AsyncSession, token_hashes: Collection[str], *, now: dt.datetime | None = None
) -> set[str]:
    """Those of ``token_hashes`` (see :func:`hash_token`) whose tokens exist, are not revoked
    and have not expired: what long-lived connections check again now and then. Read-only."""
    wanted = sorted(set(token_hashes))
    now = now or utcnow()
    live: set[str] = set()
    for start in range(0, len(wanted), 500):  # bounded IN lists, whatever the number of sockets
        stmt = select(ApiToken.token_sha256).where(
            ApiToken.token_sha256.in_(wanted[start : start + 500]),
            ApiToken.revoked_at.is_(None),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
        )
        live.update((await session.scalars(stmt)).all())
    return live


@dataclasses.dataclass(frozen=True)
class UserSummary:
    """A user and how many live tokens it holds."""

    user: User
    live_tokens: int


def _live(now: dt.datetime) -> Any:
    return (ApiToken.revoked_at.is_(None)) & or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now)


async def list_users(session: AsyncSession, *, now: dt.datetime | None = None) -> list[UserSummary]:
    """Every user by name, with the number of its live (not revoked, not expired) tokens."""
    now = now or utcnow()
    live = (
        select(ApiToken.user_id, func.count().label("n"))
        .where(_live(now))
        .group_by(ApiToken.user_id)
        .subquery()
    )
    rows = await session.execute(
        select(User, func.coalesce(live.c.n, 0)).outerjoin(live, live.c.user_id == User.id).order_by(User.name)
    )
    return [UserSummary(user, int(count)) for user, count in rows.all()]


async def get_user_named(session: AsyncSession, name: str) -> User:
    """The user called ``name``.

    Raises:
        NotFound: there is none.
    """
    user = await get_user_by_name(session, name)
    if user is None:
        raise NotFound("user", name)
    return user


async def list_tokens(session: AsyncSession, *, user_id: str | None = None) -> list[tuple[ApiToken, User]]:
    """Tokens (all, or one user's) with their users, newest first; revoked and expired ones included."""
    stmt = select(ApiToken, User).join(User, User.id == ApiToken.user_id)
    if user_id is not None:
        stmt = stmt.where(ApiToken.user_id == user_id)
    rows = await session.execute(stmt.order_by(ApiToken.created_at.desc(), ApiToken.id))
    return [(token, user) for token, user in rows.tuples().all()]


def _check_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not prefix.strip():
        raise InvalidInput("prefix", "must be a non-empty string")
    prefix = prefix.strip()
    if len(prefix) > 64:
        raise InvalidInput("prefix", "must be at most 64 characters (a token prefix or a token id)")
    return prefix


async def revoke_token_by_prefix(session: AsyncSession, prefix: str) -> ApiToken:
    """Revoke the live token whose prefix (see :func:`token_prefix`) or id is ``prefix``.

    Returns:
        The revoked token's row (its ``token_sha256`` tells caches which token to forget).

    Raises:
        InvalidInput: ``prefix`` is empty or too long.
        NotFound: no live token has this prefix or id.
        Conflict: several live tokens share the prefix; revoke by id instead.
    """
    prefix = _check_prefix(prefix)
    stmt = select(ApiToken).where(
        or_(ApiToken.token_prefix == prefix, ApiToken.id == prefix), ApiToken.revoked_at.is_(None)
    )
    found = list((await session.scalars(stmt)).all())
    if not found:
        raise NotFound("token", prefix)
    if len(found) > 1:
        raise Conflict(f"{len(found)} live tokens start with {prefix!r}; revoke one by its id")
    row = found[0]
    row.revoked_at = utcnow()
    await session.flush()
    return row
