"""Where abort requests live: an in-memory backend and a Redis (key + pub/sub) backend."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import redis

ABORT_TTL_MS = 86_400_000


@dataclass(frozen=True)
class AbortRequest:
    """One abort request.

    Attributes:
        mode: ``"abort"`` (skip if pending, interrupt if running) or ``"cancel"`` (pending only).
        abort_timeout: Milliseconds a running actor gets to stop on its own before Abort is raised.
        requested_at: UNIX time in milliseconds.
    """

    mode: str
    abort_timeout: int
    requested_at: int


class AbortBackend:
    """Stores abort requests and notifies listeners of new ones."""

    def request(self, message_id: str, request: AbortRequest) -> None:
        """Record an abort request and notify listeners."""
        raise NotImplementedError

    def get(self, message_id: str) -> AbortRequest | None:
        """The abort request for a message, if any."""
        raise NotImplementedError

    def listen(self, callback: Callable[[str], None], stop: threading.Event) -> None:
        """Call ``callback(message_id)`` for each new request until ``stop`` is set (blocks)."""
        raise NotImplementedError


class StubBackend(AbortBackend):
    """Abort requests in memory, for tests and single-process use."""

    def __init__(self) -> None:
        self.requests: dict[str, AbortRequest] = {}
        self.condition = threading.Condition()
        self.events: list[str] = []

    def request(self, message_id: str, request: AbortRequest) -> None:
        with self.condition:
            self.requests[message_id] = request
            self.events.append(message_id)
            self.condition.notify_all()

    def get(self, message_id: str) -> AbortRequest | None:
        with self.condition:
            return self.requests.get(message_id)

    def _has_news(self, seen: int, stop: threading.Event) -> bool:
        return len(self.events) > seen or stop.is_set()

    def listen(self, callback: Callable[[str], None], stop: threading.Event) -> None:
        seen = 0
        while not stop.is_set():
            with self.condition:
                self.condition.wait_for(functools.partial(self._has_news, seen, stop), timeout=0.1)
                fresh, seen = self.events[seen:], len(self.events)
            for message_id in fresh:
                callback(message_id)


class RedisBackend(AbortBackend):
    """Abort requests as Redis keys (so pending messages see them) plus a pub/sub notice.

    Args:
        client: A Redis client; built from ``url`` when omitted.
        url: A ``redis://`` URL.
        namespace: The key and channel prefix.
        ttl: How long (ms) a request is kept.
    """

    def __init__(
        self, *, client: redis.Redis | None = None, url: str | None = None, namespace: str = "shim-abort",
        ttl: int = ABORT_TTL_MS,
    ) -> None:
        if client is None:
            client = redis.Redis.from_url(url) if url else redis.Redis()
        self.client = client
        self.namespace = namespace
        self.channel = f"{namespace}:events"
        self.ttl = ttl

    def _key(self, message_id: str) -> str:
        return f"{self.namespace}:{message_id}"

    def request(self, message_id: str, request: AbortRequest) -> None:
        with self.client.pipeline() as pipe:
            pipe.set(self._key(message_id), json.dumps(asdict(request)), px=self.ttl)
            pipe.publish(self.channel, message_id)
            pipe.execute()

    def get(self, message_id: str) -> AbortRequest | None:
        data: Any = self.client.get(self._key(message_id))
        if data is None:
            return None
        fields: dict[str, Any] = json.loads(data)
        return AbortRequest(**fields)

    def listen(self, callback: Callable[[str], None], stop: threading.Event) -> None:
        while not stop.is_set():
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self.channel)
                while not stop.is_set():
                    event = pubsub.get_message(timeout=0.2)
                    if event is not None and event.get("type") == "message":
                        data = event["data"]
                        callback(data.decode() if isinstance(data, bytes) else str(data))
            except redis.RedisError:
                # A dropped connection loses notices; the middleware's poll covers the gap.
                time.sleep(0.5)
            finally:
                pubsub.close()
