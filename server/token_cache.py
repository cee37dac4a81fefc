"""The web process's memory of resolved tokens: no database round trip per request.

Pure policy, no I/O: entries live ``ttl_s`` seconds (``server.auth_cache_ttl_s``) and are
evicted at once when a revocation message names their token or their user (see
:mod:`server.revocation`). The TTL is therefore the longest a revoked token can still
work, and only when that message is lost (Redis down). A generation counter keeps a
lookup that started before an eviction from putting back what the eviction removed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

DEFAULT_MAX_ENTRIES = 10_000

U = TypeVar("U")


@dataclasses.dataclass(frozen=True)
class CachedToken(Generic[U]):
    """A live token as it was resolved.

    Attributes:
        user: The owner (read-only, shared between requests).
        user_id: The owner's id, for evictions by user.
        token_sha256: The token's hash (the cache key).
        expires_at: When the token expires (UTC), if ever; checked on every hit.
    """

    user: U
    user_id: str
    token_sha256: str
    expires_at: dt.datetime | None


class TokenCache(Generic[U]):
    """Resolved tokens by hash, for ``ttl_s`` seconds; ``ttl_s == 0`` caches nothing.

    Args:
        ttl_s: How long an entry is trusted.
        max_entries: The oldest entries go first beyond this many.
        clock: Monotonic seconds (tests pass their own).
    """

    def __init__(
        self, ttl_s: float, *, max_entries: int = DEFAULT_MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl_s < 0:
            raise ValueError("ttl_s: must be 0 or greater")
        self.ttl_s = ttl_s
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, CachedToken[U]]] = OrderedDict()
        self.generation = 0
        """Bumped by every eviction; pass the value read before a lookup to :meth:`put`."""

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token_sha256: str, *, now: dt.datetime | None = None) -> CachedToken[U] | None:
        """The entry of a token resolved less than ``ttl_s`` ago and not expired since."""
        found = self._entries.get(token_sha256)
        if found is None:
            return None
        stored_at, entry = found
        expired = entry.expires_at is not None and (now or dt.datetime.now(dt.UTC)) >= entry.expires_at
        if expired or self._clock() - stored_at >= self.ttl_s:
            del self._entries[token_sha256]
            return None
        return entry

    def put(self, entry: CachedToken[U], *, generation: int) -> bool:
        """Remember ``entry`` unless an eviction happened since ``generation`` was read."""
        if self.ttl_s == 0 or generation != self.generation:
            return False
        self._entries[entry.token_sha256] = (self._clock(), entry)
        self._entries.move_to_end(entry.token_sha256)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return True

    def evict_token(self, token_sha256: str) -> int:
        """Forget one token; returns how many entries went (0 or 1)."""
        self.generation += 1
        return 1 if self._entries.pop(token_sha256, None) is not None else 0

    def evict_user(self, user_id: str) -> int:
        """Forget every token of ``user_id``; returns how many entries went."""
        self.generation += 1
        doomed = [key for key, (_, entry) in self._entries.items() if entry.user_id == user_id]
        for key in doomed:
            del self._entries[key]
        return len(doomed)

    def clear(self) -> None:
        """Forget everything (revocations may have been missed while Redis was away)."""
        self.generation += 1
        self._entries.clear()
