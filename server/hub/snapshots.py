"""Snapshots shared between the sockets of one user, and bounded in size.

:class:`SharedSnapshots` wraps a :class:`~server.hub.source.HubSource`. Its
:meth:`~SharedSnapshots.jobs` reads a user's topic once for every socket that subscribes
to it within ``snapshot_cache_s`` (concurrent subscribers await the same read), and caps
each job's warnings at ``snapshot_warnings_per_job``, saying so in the row
(``warnings_total``, ``warnings_truncated``; the REST job carries them all).

Sharing never hides an event: a socket listens before it asks for its snapshot, and any
persisted event of a user (seen here as a fan-out listener) drops that user's entries and
those of admins, so a cached snapshot is never older than the last event a listening
socket could have missed. A read that started before such an event is not stored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection
from typing import Any

from server.hub.fanout import Published
from server.hub.protocol import Topic
from server.hub.source import HubSource, Principal

_Key = tuple[str, bool, Topic, int]


def cap_warnings(row: dict[str, Any], limit: int) -> dict[str, Any]:
    """``row`` with at most ``limit`` warnings; a capped row says how many there were."""
    warnings = row.get("warnings")
    if not isinstance(warnings, list) or len(warnings) <= limit:
        return row
    return {**row, "warnings": warnings[:limit], "warnings_total": len(warnings), "warnings_truncated": True}


class SharedSnapshots:
    """A :class:`HubSource` whose job reads are shared briefly per user and topic; a fan-out listener.

    Args:
        source: The database reads.
        ttl_s: How long a read is shared (0: never).
        warnings_per_job: Warnings kept per job row.
        clock: Monotonic seconds.
    """

    def __init__(
        self, source: HubSource, *, ttl_s: float, warnings_per_job: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._source = source
        self._ttl = ttl_s
        self._cap = warnings_per_job
        self._clock = clock
        self._entries: dict[_Key, tuple[float, list[dict[str, Any]]]] = {}
        self._inflight: dict[_Key, asyncio.Future[list[dict[str, Any]]]] = {}
        self._generation: dict[str, int] = {}
        self._admin_generation = 0
        self._epoch = 0
        self.reads = 0
        """Database reads of job rows made so far (for tests and operators)."""

    # --- HubSource ----------------------------------------------------------------------

    async def authenticate(self, token: str) -> Principal | None:
        return await self._source.authenticate(token)

    async def live_tokens(self, token_hashes: Collection[str]) -> set[str]:
        return await self._source.live_tokens(token_hashes)

    async def events_after(self, principal: Principal, job_id: str, seq: int, limit: int) -> list[dict[str, Any]]:
        return await self._source.events_after(principal, job_id, seq, limit)

    async def jobs(self, principal: Principal, topic: Topic, limit: int) -> list[dict[str, Any]]:
        key = (principal.user_id, principal.is_admin, topic, limit)
        if self._ttl > 0:
            cached = self._entries.get(key)
            if cached is not None and self._clock() - cached[0] < self._ttl:
                return cached[1]
            pending = self._inflight.get(key)
            if pending is not None:
                return await asyncio.shield(pending)
        generation = self._generation_of(principal)
        future: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            self.reads += 1
            rows = [cap_warnings(row, self._cap) for row in await self._source.jobs(principal, topic, limit)]
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must log it
            raise
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]
        future.set_result(rows)
        if self._ttl > 0 and generation == self._generation_of(principal):
            self._entries[key] = (self._clock(), rows)
        return rows

    def _generation_of(self, principal: Principal) -> tuple[int, int]:
        own = self._admin_generation if principal.is_admin else self._generation.get(principal.user_id, 0)
        return self._epoch, own

    # --- fan-out listener: never blocks -------------------------------------------------

    def deliver(self, owner_id: str, published: Published) -> None:
        if isinstance(published.event.get("seq"), int):  # progress is ephemeral: a slightly old figure is fine
            self.invalidate(owner_id)

    def resync(self) -> None:
        self.clear()

    def invalidate(self, owner_id: str) -> None:
        """Drop what ``owner_id`` and every admin see: one of ``owner_id``'s jobs changed."""
        self._generation[owner_id] = self._generation.get(owner_id, 0) + 1
        self._admin_generation += 1
        for key in [k for k in self._entries if k[0] == owner_id or k[1]]:
            del self._entries[key]
        self._prune()

    def clear(self) -> None:
        self._epoch += 1
        self._entries.clear()

    def _prune(self) -> None:
        now = self._clock()
        for key in [k for k, (at, _) in self._entries.items() if now - at >= self._ttl]:
            del self._entries[key]
