"""A Redis rate-limiter backend."""

from __future__ import annotations

from typing import Any

import redis

from ..backend import RateLimiterBackend

_DECR = """
local value = tonumber(redis.call('GET', KEYS[1]) or '0') - tonumber(ARGV[1])
if value < tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], value, 'PX', ARGV[3])
return 1
"""


class RedisBackend(RateLimiterBackend):
    """Counters in Redis; ``decr`` is one Lua script so it is atomic.

    Args:
        client: A Redis client; built from ``url`` or ``parameters`` when omitted.
        url: A ``redis://`` URL.
        **parameters: Passed to ``redis.Redis``.
    """

    def __init__(self, *, client: redis.Redis | None = None, url: str | None = None, **parameters: Any) -> None:
        if url:
            parameters["connection_pool"] = redis.ConnectionPool.from_url(url)
        self.client = client or redis.Redis(**parameters)
        self._decr = self.client.register_script(_DECR)

    def add(self, key: str, value: int, ttl: int) -> bool:
        return bool(self.client.set(key, value, px=ttl, nx=True))

    def decr(self, key: str, amount: int, minimum: int, ttl: int) -> bool:
        return bool(self._decr(keys=[key], args=[amount, minimum, ttl]))

    def wait(self, key: str, timeout: int | None) -> bool:
        seconds = 0 if timeout is None else max(1, timeout // 1000)
        event: Any = self.client.brpoplpush(key, key, seconds)
        return bool(event == b"x")

    def wait_notify(self, key: str, ttl: int) -> None:
        with self.client.pipeline() as pipe:
            pipe.rpush(key, b"x")
            pipe.pexpire(key, ttl)
            pipe.execute()
