"""The hub of one server process: the fan-out, the open sockets, their shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from server.hub.client import HubClient
from server.hub.fanout import Fanout, FanoutStatus
from server.hub.policy import CloseCode, HubConfig
from server.hub.snapshots import SharedSnapshots
from server.hub.source import HubSource, Principal
from server.revocation import Revocation

log = logging.getLogger(__name__)


class Hub:
    """Owns the Redis subscription and every socket's :class:`HubClient`.

    Snapshots go through :class:`SharedSnapshots` (shared per user and topic, warnings
    capped), and each user may hold ``config.max_sockets_per_user`` sockets here.

    Args:
        source: Database reads.
        connect: Returns a new Redis client for the subscription (see ``fanout.redis_connector``).
        config: Limits and timings.
    """

    def __init__(self, source: HubSource, connect: Callable[[], aioredis.Redis], config: HubConfig) -> None:
        self.snapshots = SharedSnapshots(
            source, ttl_s=config.snapshot_cache_s, warnings_per_job=config.snapshot_warnings_per_job
        )
        self.source: HubSource = self.snapshots
        self.config = config
        self.fanout = Fanout(connect, config)
        self.fanout.add(self.snapshots)
        self._sockets: Counter[str] = Counter()
        self._clients: set[HubClient] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._reauth: asyncio.Task[None] | None = None

    @property
    def status(self) -> FanoutStatus:
        """The Redis subscription's state; ``status.ready`` is what ``/ready`` should report."""
        return self.fanout.status

    @property
    def accepting(self) -> bool:
        """False once shutdown began: new sockets are turned away with GOING_AWAY."""
        return not self._closing

    @property
    def clients(self) -> frozenset[HubClient]:
        return frozenset(self._clients)

    def admit(self, principal: Principal) -> bool:
        """Count a new socket of ``principal``'s user, unless the user is at ``max_sockets_per_user``.

        Every admitted socket must be released (:meth:`release`) when it ends.
        """
        limit = self.config.max_sockets_per_user
        if limit and self._sockets[principal.user_id] >= limit:
            return False
        self._sockets[principal.user_id] += 1
        return True

    def release(self, principal: Principal) -> None:
        self._sockets[principal.user_id] -= 1
        if self._sockets[principal.user_id] <= 0:
            del self._sockets[principal.user_id]

    def sockets_of(self, user_id: str) -> int:
        """Admitted sockets of ``user_id`` open now."""
        return self._sockets.get(user_id, 0)

    def revoked(self, revocation: Revocation) -> int:
        """Close (4401) at once the sockets of a revoked token or user; returns how many."""
        closed = 0
        for client in list(self._clients):
            p = client.principal
            if (revocation.token_sha256 and p.token_sha256 == revocation.token_sha256) or (
                revocation.user_id is not None and p.user_id == revocation.user_id
            ):
                client.close(CloseCode.UNAUTHORIZED, "unauthorized: the token was revoked")
                closed += 1
        return closed

    def start(self) -> None:
        self.fanout.start()
        self._reauth = asyncio.create_task(self._recheck_tokens_forever(), name="hub-reauth")

    async def recheck_tokens(self) -> int:
        """Close (4401) every socket whose token was revoked or has expired; returns how many."""
        clients = [client for client in self._clients if client.principal.token_sha256]
        if not clients:
            return 0
        live = await self.source.live_tokens({client.principal.token_sha256 for client in clients})
        closed = 0
        for client in clients:
            if client.principal.token_sha256 not in live:
                client.close(CloseCode.UNAUTHORIZED, "unauthorized: the token was revoked or has expired")
                closed += 1
        return closed

    async def _recheck_tokens_forever(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.config.reauth_interval_s)
            try:
                await self.recheck_tokens()
            except Exception as exc:  # a database outage must not end the checks; /ready reports it
                log.warning("could not check the tokens of open websockets: %s", exc)

    def register(self, client: HubClient) -> None:
        self._clients.add(client)
        self.fanout.add(client)

    def unregister(self, client: HubClient) -> None:
        self._clients.discard(client)
        self.fanout.discard(client)

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        """Run a background coroutine the hub keeps a reference to until it ends."""
        task: asyncio.Task[Any] = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def shutdown(self, grace_s: float = 5.0) -> None:
        """Close every socket with GOING_AWAY and wait (up to ``grace_s``) for the close frames to go out."""
        self._closing = True
        if self._reauth is not None:
            self._reauth.cancel()
        for client in list(self._clients):
            client.close(CloseCode.GOING_AWAY, "server shutting down; reconnect with since")
        pending = set(self._background)
        if pending:
            _, still = await asyncio.wait(pending, timeout=grace_s)
            for task in still:
                task.cancel()

    async def stop(self) -> None:
        """Stop the subscription and cancel what is left (after :meth:`shutdown`)."""
        await self.fanout.stop()
        if self._reauth is not None:
            self._reauth.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reauth
        for task in list(self._background):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
