"""``/admin/tokens``: admins list, create and revoke API tokens (the CLI's ``mlw tokens``).

Only admins may call these routes; anyone else gets 403 (the routes are no one's object,
so there is nothing to hide behind a 404). A revocation is published on
``mlw:auth:revoked`` so every web process forgets the token at once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from server.auth import reader_of
from server.errors import Forbidden
from server.keys import REDIS, SESSIONS
from server.parsing import parse_query, read_json
from server.revocation import publish_revocation
from server.routing import Operation
from server.schemas.admin import (
    TokenCreated,
    TokenCreateIn,
    TokenList,
    TokenListQuery,
    TokenRevokeQuery,
    TokensRevoked,
)
from server.serialize import iso
from store.engine import read_session
from store.models import ApiToken, User
from store.types import utcnow
from store.users import (
    get_user_named,
    issue_token,
    list_tokens,
    revoke_token_by_prefix,
    revoke_user_tokens,
    token_row,
)


def require_admin(request: web.Request) -> None:
    """Refuse non-admins with 403.

    Raises:
        Forbidden: the caller is not an admin.
    """
    if not reader_of(request).is_admin:
        raise Forbidden("only admins may manage tokens", code="admin_only")


def token_json(token: ApiToken, user: User, now: dt.datetime) -> dict[str, Any]:
    live = token.revoked_at is None and (token.expires_at is None or token.expires_at > now)
    return {
        "id": token.id,
        "prefix": token.token_prefix,
        "user_id": user.id,
        "user_name": user.name,
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at),
        "expires_at": iso(token.expires_at),
        "revoked_at": iso(token.revoked_at),
        "live": live,
    }


async def list_admin_tokens(request: web.Request) -> web.Response:
    require_admin(request)
    query = parse_query(request, TokenListQuery)
    async with read_session(request.app[SESSIONS]) as session:
        user_id = (await get_user_named(session, query.user)).id if query.user else None
        rows = await list_tokens(session, user_id=user_id)
    now = utcnow()
    return web.json_response({"items": [token_json(token, user, now) for token, user in rows]})


async def create_admin_token(request: web.Request) -> web.Response:
    require_admin(request)
    body = await read_json(request, TokenCreateIn)
    expires_in = dt.timedelta(days=body.expires_in_days) if body.expires_in_days is not None else None
    async with request.app[SESSIONS].begin() as session:
        user = await get_user_named(session, body.user)
        token = await issue_token(session, user.id, expires_in=expires_in)
        row = await token_row(session, token)
        info = token_json(row, user, utcnow())
    return web.json_response({"token": token, "info": info}, status=201)


async def revoke_admin_tokens(request: web.Request) -> web.Response:
    require_admin(request)
    query = parse_query(request, TokenRevokeQuery)
    async with request.app[SESSIONS].begin() as session:
        if query.prefix is not None:
            digest = (await revoke_token_by_prefix(session, query.prefix)).token_sha256
            revoked, user_id = 1, None
        else:
            assert query.user is not None
            user_id = (await get_user_named(session, query.user)).id
            revoked, digest = await revoke_user_tokens(session, user_id), None
    # After commit: a process that hears the message must find the token revoked.
    if digest is not None:
        await publish_revocation(request.app[REDIS], token_sha256=digest)
    elif user_id is not None:
        await publish_revocation(request.app[REDIS], user_id=user_id)
    return web.json_response({"revoked": revoked})


OPERATIONS = [
    Operation(
        "GET",
        "/admin/tokens",
        list_admin_tokens,
        "list_admin_tokens",
        "Admin: every API token (or one user's) by prefix, with its state; never the token itself",
        "admin",
        {200: TokenList},
        query=TokenListQuery,
        errors=(403, 404),
    ),
    Operation(
        "POST",
        "/admin/tokens",
        create_admin_token,
        "create_admin_token",
        "Admin: a new API token for a user (shown once)",
        "admin",
        {201: TokenCreated},
        body=TokenCreateIn,
        errors=(403, 404),
    ),
    Operation(
        "DELETE",
        "/admin/tokens",
        revoke_admin_tokens,
        "revoke_admin_tokens",
        "Admin: revoke one token (`prefix`: its first 8 characters or its id) or all of a user's (`user`)",
        "admin",
        {200: TokensRevoked},
        query=TokenRevokeQuery,
        errors=(403, 404, 409),
    ),
]
