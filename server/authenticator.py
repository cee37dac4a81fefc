"""Resolving bearer tokens without writing: the token cache, the database read, the use log.

:class:`Authenticator` is what the REST middleware and the websocket hub ask. A token is
looked up in the :class:`~server.token_cache.TokenCache` first, then read from the
database in a *read* transaction (never ``BEGIN IMMEDIATE``), and its use is noted for the
:class:`~server.last_used.LastUsedRecorder` that writes ``last_used_at`` in the background.
Revocations arrive through :mod:`server.revocation` and evict at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable

from server.last_used import LastUsedRecorder
from server.revocation import Revocation
from server.token_cache import CachedToken, TokenCache
from store.engine import Sessions, read_session
from store.models import User
from store.types import utcnow
from store.users import hash_token, resolve_token


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who a live token belongs to."""

    user: User
    token_sha256: str

    @property
    def user_id(self) -> str:
        return str(self.user.id)

    @property
    def is_admin(self) -> bool:
        return bool(self.user.is_admin)


class Authenticator:
    """Resolves tokens for the REST API and the hub.

    Args:
        sessions: The process's session factory (only read sessions are opened).
        cache: Resolved tokens (``server.auth_cache_ttl_s``).
        recorder: Notes each use for ``last_used_at``; ``None`` records nothing.
    """

    def __init__(
        self,
        sessions: Sessions,
        cache: TokenCache[User],
        recorder: LastUsedRecorder | None = None,
    ) -> None:
        self._sessions = sessions
        self.cache = cache
        self.recorder = recorder
        self.subscribed = asyncio.Event()
        """Set while the revocation subscription is up (see :class:`~server.revocation.RevocationListener`)."""
        self._inflight: dict[str, asyncio.Future[CachedToken[User] | None]] = {}
        self.revocation_hooks: list[Callable[[Revocation], object]] = []
        """Also told of each revocation (the hub closes the sockets of revoked tokens)."""

    async def authenticate(self, token: str) -> Identity | None:
        """The owner of a live ``token``, or ``None`` (unknown, revoked and expired look the same)."""
        if not isinstance(token, str) or not token:
            return None
        digest = hash_token(token)
        now = utcnow()
        entry = self.cache.get(digest, now=now)
        if entry is None:
            pending = self._inflight.get(digest)
            if pending is None:
                # One read for every request of this token that arrives while it runs: when
                # an entry expires under load, fifty requests must not make fifty reads.
                pending = asyncio.ensure_future(self._lookup(token, digest, now))
                self._inflight[digest] = pending
                pending.add_done_callback(lambda _f: self._inflight.pop(digest, None))
            entry = await asyncio.shield(pending)
            if entry is None:
                return None
        if self.recorder is not None:
            self.recorder.touch(digest)
        return Identity(entry.user, digest)

    async def _lookup(self, token: str, digest: str, now: dt.datetime) -> CachedToken[User] | None:
        generation = self.cache.generation
        async with read_session(self._sessions) as session:
            found = await resolve_token(session, token, now=now)
        if found is None:
            return None
        user, row = found
        entry = CachedToken(user, str(user.id), digest, row.expires_at)
        self.cache.put(entry, generation=generation)
        return entry

    def revoked(self, revocation: Revocation) -> None:
        """Evict what ``revocation`` names and tell the hooks (a :class:`RevocationListener` callback)."""
        if revocation.token_sha256 is not None:
            self.cache.evict_token(revocation.token_sha256)
        if revocation.user_id is not None:
            self.cache.evict_user(revocation.user_id)
        for hook in list(self.revocation_hooks):
            hook(revocation)

    def resubscribed(self) -> None:
        """Revocations may have been missed: trust nothing cached before now."""
        self.cache.clear()
