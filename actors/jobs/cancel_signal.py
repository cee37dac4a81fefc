"""The cancel signal: how a running actor learns within ~100 ms that its job is cancelled.

The database holds the truth (``cancelling`` with ``cancel_requested_at``); this signal
is the fast path. It is a Redis key per job, which a running actor polls every
``poll_s`` from its event loop: a key survives a subscriber that connects late, which a
pub/sub message would not.
"""

from __future__ import annotations

from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

KEY_TTL_S = 7 * 24 * 3600


def cancel_key(job_id: str) -> str:
    """The Redis key that says ``job_id`` is to be cancelled."""
    return f"mlw:cancel:{job_id}"


class CancelSignals(Protocol):
    """Raise and read per-job cancel signals."""

    async def request(self, job_id: str) -> None:
        """Ask the actor running ``job_id`` to stop at its next checkpoint."""

    async def is_requested(self, job_id: str) -> bool:
        """Whether a cancel signal for ``job_id`` is raised."""


class RedisCancelSignals:
    """Cancel signals as Redis keys with a week's TTL (a finished job needs none)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client

    async def request(self, job_id: str) -> None:
        await self._client.set(cancel_key(job_id), b"1", ex=KEY_TTL_S)

    async def is_requested(self, job_id: str) -> bool:
        try:
            return bool(await self._client.exists(cancel_key(job_id)))
        except (RedisError, OSError):
            # Redis down: the heartbeat's database check still finds the cancellation.
            return False


class LocalCancelSignals:
    """In-process cancel signals, for tests that drive the actor without Redis."""

    def __init__(self) -> None:
        self._raised: set[str] = set()

    async def request(self, job_id: str) -> None:
        self._raised.add(job_id)

    async def is_requested(self, job_id: str) -> bool:
        return job_id in self._raised
