"""A distributed barrier: cleared when ``parties`` calls to ``wait`` have happened."""

from __future__ import annotations

from .backend import RateLimiterBackend


class Barrier:
    """A barrier stored in a rate-limiter backend.

    Args:
        backend: The backend holding the counter.
        key: The barrier's unique key.
        ttl: How long (ms) the barrier may live.
    """

    def __init__(self, backend: RateLimiterBackend, key: str, *, ttl: int = 900_000) -> None:
        self.backend = backend
        self.key = key
        self.key_events = key + "@events"
        self.ttl = ttl

    def create(self, parties: int) -> bool:
        """Create the barrier for ``parties`` parties; whether it was new."""
        assert parties > 0, "parties must be a positive integer."
        return self.backend.add(self.key, parties, self.ttl)

    def wait(self, *, block: bool = True, timeout: int | None = None) -> bool:
        """Signal arrival; whether every party has arrived (waiting for them if ``block``)."""
        cleared = not self.backend.decr(self.key, 1, 1, self.ttl)
        if cleared:
            self.backend.wait_notify(self.key_events, self.ttl)
            return True
        if block:
            return self.backend.wait(self.key_events, timeout)
        return False
