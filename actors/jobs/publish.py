"""Publishing job events after commit: Redis pub/sub in production, a collector in tests.

Pub/sub may drop messages; the database never does, so a failed publish is logged and
swallowed: subscribers refill gaps from ``training_job_events`` by ``seq``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


def channel_for(user_id: str | int) -> str:
    """The Redis channel of one user's job events."""
    return f"mlw:events:{user_id}"


def encode_event(event: Mapping[str, Any]) -> str:
    """The JSON text of an event (datetimes as ISO 8601)."""
    return json.dumps(event, default=_json_default, separators=(",", ":"), sort_keys=True)


def _json_default(value: Any) -> Any:
    iso = getattr(value, "isoformat", None)
    if callable(iso):
        return iso()
    raise TypeError(f"cannot encode {type(value).__name__} in an event")


class Publisher(Protocol):
    """Where committed events go."""

    async def publish(self, user_id: str | int, event: Mapping[str, Any]) -> None:
        """Publish one event to the user's channel; never raises for transport errors."""

    async def publish_all(self, events: Sequence[tuple[str | int, Mapping[str, Any]]]) -> None:
        """Publish ``(user_id, event)`` pairs in order (a batch's events); never raises for transport errors."""


class RedisPublisher:
    """Publishes events with ``PUBLISH mlw:events:{user_id}``.

    Args:
        client: An asyncio Redis client; the caller owns and closes it.
    """

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client

    async def publish(self, user_id: str | int, event: Mapping[str, Any]) -> None:
        try:
            await self._client.publish(channel_for(user_id), encode_event(event))
        except (RedisError, OSError) as exc:
            log.warning("event for job %s not published (%s); the database keeps it", event.get("job_id"), exc)

    async def publish_all(self, events: Sequence[tuple[str | int, Mapping[str, Any]]]) -> None:
        # One round trip for the lot: a batch of submissions has one event each.
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for user_id, event in events:
                    pipe.publish(channel_for(user_id), encode_event(event))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("%d events not published (%s); the database keeps them", len(events), exc)


class CollectingPublisher:
    """An in-process publisher that keeps every event, for tests that drive actors directly."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._changed = asyncio.Condition()

    async def publish(self, user_id: str | int, event: Mapping[str, Any]) -> None:
        # A JSON round trip proves the event is serialisable, as Redis would require.
        decoded = json.loads(encode_event(event))
        async with self._changed:
            self.events.append((channel_for(user_id), decoded))
            self._changed.notify_all()

    async def publish_all(self, events: Sequence[tuple[str | int, Mapping[str, Any]]]) -> None:
        for user_id, event in events:
            await self.publish(user_id, event)

    def of_job(self, job_id: str, *, persisted_only: bool = False) -> list[dict[str, Any]]:
        """The events of one job in publication order (``persisted_only`` drops progress)."""
        found = [e for _, e in self.events if e.get("job_id") == job_id]
        return [e for e in found if "seq" in e] if persisted_only else found

    async def wait_for(self, job_id: str, status: str, within_s: float = 30.0) -> dict[str, Any]:
        """Wait until an event of ``job_id`` with ``status`` was published, and return it."""

        def match() -> dict[str, Any] | None:
            return next((e for e in self.of_job(job_id, persisted_only=True) if e.get("status") == status), None)

        async with asyncio.timeout(within_s), self._changed:
            await self._changed.wait_for(lambda: match() is not None)
        found = match()
        assert found is not None
        return found
