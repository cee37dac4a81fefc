"""A Redis result backend: results are one-element lists, so waiting is a blocking pop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import redis

from ...encoder import Encoder
from ...errors import ResultMissing, ResultTimeout
from ..backend import DEFAULT_TIMEOUT, ResultBackend

if TYPE_CHECKING:
    from ...message import Message


class RedisBackend(ResultBackend):
    """Store results in Redis.

    Args:
        namespace: The key prefix.
        encoder: The encoder for stored data.
        use_namespace_prefix_keys: Readable keys instead of MD5 digests.
        client: A Redis client; when given, connection arguments are ignored.
        url: A ``redis://`` URL.
        **parameters: Passed to ``redis.Redis``.
    """

    def __init__(
        self,
        *,
        namespace: str = "dramatiq-results",
        encoder: Encoder | None = None,
        use_namespace_prefix_keys: bool = False,
        client: redis.Redis | None = None,
        url: str | None = None,
        **parameters: Any,
    ) -> None:
        super().__init__(namespace=namespace, encoder=encoder, use_namespace_prefix_keys=use_namespace_prefix_keys)
        if url:
            parameters["connection_pool"] = redis.ConnectionPool.from_url(url)
        self.client = client or redis.Redis(**parameters)

    def get_result(self, message: Message[Any], *, block: bool = False, timeout: int | None = None) -> Any:
        """Get a result; blocking waits use BRPOPLPUSH (whole seconds).

        Raises:
            ResultMissing: When ``block`` is false and no result is stored.
            ResultTimeout: When waiting times out.
            ResultFailure: When the actor failed.
        """
        if timeout is None:
            timeout = DEFAULT_TIMEOUT
        key = self.build_message_key(message)
        if block:
            seconds = int(timeout / 1000)
            data: Any = self.client.rpoplpush(key, key) if seconds == 0 else self.client.brpoplpush(key, key, seconds)
            if data is None:
                raise ResultTimeout(message)
        else:
            data = self.client.lindex(key, 0)
            if data is None:
                raise ResultMissing(message)
        return self.unwrap_result(self.encoder.decode(data))

    def _store(self, message_key: str, result: Any, ttl: int) -> None:
        with self.client.pipeline() as pipe:
            pipe.delete(message_key)
            pipe.lpush(message_key, self.encoder.encode(result))
            pipe.pexpire(message_key, ttl)
            pipe.execute()
