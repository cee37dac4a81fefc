"""Bearer-token authentication and the one ownership rule.

Every route under the API prefix needs ``Authorization: Bearer <token>`` except those
the operation table marks public (health, ready). The authenticated user becomes a
:class:`~store.reader.Reader` on the request: store queries scoped by it show a
non-admin only their own rows, and another user's row looks exactly like a missing one
(404). Admins read everything; every write (any method but GET/HEAD/OPTIONS, outside
``/admin/``) is scoped to the caller's own rows, admins included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.typedefs import Handler
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from server.authenticator import Authenticator
from server.errors import NotFoundError, Unauthorized
from server.keys import AUTH, PUBLIC_ROUTES, READER, SESSIONS, SETTINGS, USER
from server.last_used import LastUsedRecorder
from server.revocation import RevocationListener
from server.routing import API_PREFIX
from server.token_cache import TokenCache
from store.errors import NotFound
from store.reader import Reader

MAX_TOKEN_CHARS = 512


def bearer_token(request: web.Request) -> str:
    """The token of the ``Authorization: Bearer`` header.

    Raises:
        Unauthorized: the header is missing or not a bearer token.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(
            "send 'Authorization: Bearer <token>' (create one with 'mlw users create')",
            details={"field": "Authorization"},
        )
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized("the bearer token is not valid", details={"field": "Authorization"})
    return token


def _needs_token(request: web.Request) -> bool:
    if not request.path.startswith(API_PREFIX):
        return False
    route = request.match_info.route
    if route.name is None and route.resource is None:
        return False  # no route matched: the router answers 404/405 without leaking anything
    return route.name not in request.app[PUBLIC_ROUTES]


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve the bearer token to a user and a :class:`Reader` before the handler runs."""
    if not _needs_token(request):
        return await handler(request)
    token = bearer_token(request)
    # No write here: a cache or a read transaction; last_used_at is written in the background.
    identity = await request.app[AUTH].authenticate(token)
    if identity is None:
        raise Unauthorized(
            "the bearer token is unknown or revoked, or has expired", details={"field": "Authorization"}
        )
    request[USER] = identity.user
    writes = writes_as_owner(request)
    request[READER] = Reader(user_id=identity.user_id, is_admin=identity.is_admin and not writes)
    if not (identity.is_admin and writes):
        return await handler(request)
    try:
        return await handler(request)
    except (NotFound, NotFoundError) as exc:
        # The admin may see the object, so say why this write does not find it.
        message = f"{exc}; admins read every user's objects but write only their own"
        details = {**getattr(exc, "details", {}), "rule": "admins_write_own_objects"}
        raise NotFoundError(message, details=details) from None


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ADMIN_PREFIX = API_PREFIX + "/admin/"


def writes_as_owner(request: web.Request) -> bool:
    """Whether this request writes (creates, changes, deletes, cancels) and so is owner-scoped for everyone.

    The one ownership rule: reads are scoped to the caller's rows except for admins, who
    read everything; writes are scoped to the caller's own rows for everyone, admins
    included, so an admin never creates a version, job or alias in another user's
    pipeline that the owner could not open. ``/admin/...`` routes are the admins' own.
    """
    return request.method not in SAFE_METHODS and not request.path.startswith(ADMIN_PREFIX)


def _revocation_connector(url: str) -> aioredis.Redis:
    # No silent reconnects inside the client: every new subscription must drop the cache.
    client: aioredis.Redis = aioredis.Redis.from_url(
        url, retry=Retry(NoBackoff(), 0), health_check_interval=10, socket_connect_timeout=2.0, socket_keepalive=True
    )
    return client


async def auth_ctx(app: web.Application) -> AsyncIterator[None]:
    """The :class:`Authenticator` of the process, its ``last_used_at`` task and its revocation subscription."""
    settings = app[SETTINGS]
    recorder = LastUsedRecorder(app[SESSIONS])
    authenticator = Authenticator(app[SESSIONS], TokenCache(settings.server.auth_cache_ttl_s), recorder)
    listener = RevocationListener(
        lambda: _revocation_connector(settings.redis.url), authenticator.revoked, authenticator.resubscribed
    )
    authenticator.subscribed = listener.subscribed
    app[AUTH] = authenticator
    recorder.start()
    listener.start()
    try:
        yield
    finally:
        await listener.stop()
        await recorder.stop()


def reader_of(request: web.Request) -> Reader:
    """The reader of an authenticated request."""
    return request[READER]
