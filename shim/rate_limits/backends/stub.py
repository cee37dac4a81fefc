"""An in-memory rate-limiter backend for tests."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from ..backend import RateLimiterBackend


class StubBackend(RateLimiterBackend):
    """Counters in a dict guarded by one lock; waits use conditions on that lock."""

    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.conditions: defaultdict[str, threading.Condition] = defaultdict(lambda: threading.Condition(self.mutex))
        self.db: dict[str, tuple[int, float]] = {}

    def _get(self, key: str, default: int | None = None) -> int | None:
        value, expiration = self.db.get(key, (None, None))
        if value is not None and expiration is not None and time.monotonic() < expiration:
            return value
        return default

    def _put(self, key: str, value: int, ttl: int) -> bool:
        self.db[key] = (value, time.monotonic() + ttl / 1000)
        return True

    def add(self, key: str, value: int, ttl: int) -> bool:
        with self.mutex:
            if self._get(key) is not None:
                return False
            return self._put(key, value, ttl)

    def decr(self, key: str, amount: int, minimum: int, ttl: int) -> bool:
        with self.mutex:
            value = (self._get(key) or 0) - amount
            if value < minimum:
                return False
            return self._put(key, value, ttl)

    def wait(self, key: str, timeout: int | None) -> bool:
        condition = self.conditions[key]
        with condition:
            return condition.wait(timeout=None if timeout is None else timeout / 1000)

    def wait_notify(self, key: str, ttl: int) -> None:
        condition = self.conditions[key]
        with condition:
            condition.notify_all()
