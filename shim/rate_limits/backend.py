"""The rate-limiter backend interface (only what barriers need)."""

from __future__ import annotations


class RateLimiterBackend:
    """Atomic counters with TTLs plus a wait/notify channel."""

    def add(self, key: str, value: int, ttl: int) -> bool:
        """Set ``key`` to ``value`` unless it exists; whether it was set."""
        raise NotImplementedError

    def decr(self, key: str, amount: int, minimum: int, ttl: int) -> bool:
        """Decrement ``key`` unless that takes it below ``minimum``; whether it changed."""
        raise NotImplementedError

    def wait(self, key: str, timeout: int | None) -> bool:
        """Wait up to ``timeout`` ms for a notification on ``key``."""
        raise NotImplementedError

    def wait_notify(self, key: str, ttl: int) -> None:
        """Wake every waiter on ``key``."""
        raise NotImplementedError
