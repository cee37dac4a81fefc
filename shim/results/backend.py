"""The result backend base class: keys, polling get, store."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

from ..common import compute_backoff, q_name
from ..encoder import Encoder
from ..errors import ResultMissing, ResultTimeout
from .result import unwrap_result, wrap_exception, wrap_result

if TYPE_CHECKING:
    from ..message import Message

DEFAULT_TIMEOUT = 10_000
BACKOFF_FACTOR = 100


class _MissingType:
    def __repr__(self) -> str:
        return "Missing"


Missing: Any = _MissingType()


class ResultBackend:
    """Base class for result backends.

    Args:
        namespace: The key prefix.
        encoder: The encoder for stored data; the global encoder by default.
        use_namespace_prefix_keys: Use readable ``namespace:queue:actor:id`` keys instead of
            their MD5 hex digest.
    """

    def __init__(
        self,
        *,
        namespace: str = "dramatiq-results",
        encoder: Encoder | None = None,
        use_namespace_prefix_keys: bool = False,
    ) -> None:
        from ..message import get_encoder

        self.namespace = namespace
        self.encoder = encoder or get_encoder()
        self.use_namespace_prefix_keys = use_namespace_prefix_keys

    def unwrap_result(self, stored: Any) -> Any:
        """Turn stored data back into a result (raising ResultFailure for failures)."""
        return unwrap_result(stored)

    def get_result(self, message: Message[Any], *, block: bool = False, timeout: int | None = None) -> Any:
        """Get a message's result.

        Raises:
            ResultMissing: When ``block`` is false and no result is stored.
            ResultTimeout: When waiting (``timeout`` ms, default 10 s) times out.
            ResultFailure: When the actor failed.
        """
        if timeout is None:
            timeout = DEFAULT_TIMEOUT
        end = time.monotonic() + timeout / 1000
        key = self.build_message_key(message)
        attempts = 0
        while True:
            stored = self._get(key)
            if stored is not Missing:
                return self.unwrap_result(stored)
            if not block:
                raise ResultMissing(message)
            attempts, delay = compute_backoff(attempts, factor=BACKOFF_FACTOR)
            if time.monotonic() + delay / 1000 > end:
                raise ResultTimeout(message)
            time.sleep(delay / 1000)

    def store_result(self, message: Message[Any], result: Any, ttl: int) -> None:
        """Store a successful result for ``ttl`` milliseconds."""
        self._store(self.build_message_key(message), wrap_result(result), ttl)

    def store_exception(self, message: Message[Any], exception: BaseException, ttl: int) -> None:
        """Store a failure for ``ttl`` milliseconds."""
        self._store(self.build_message_key(message), wrap_exception(exception), ttl)

    def build_message_key(self, message: Message[Any]) -> str:
        """The globally-unique key of a message's result."""
        key = f"{self.namespace}:{q_name(message.queue_name)}:{message.actor_name}:{message.message_id}"
        if self.use_namespace_prefix_keys:
            return key
        return hashlib.md5(key.encode("utf-8")).hexdigest()

    def _get(self, message_key: str) -> Any:
        raise NotImplementedError(f"{type(self).__name__!r} does not implement _get()")

    def _store(self, message_key: str, result: Any, ttl: int) -> None:
        raise NotImplementedError(f"{type(self).__name__!r} does not implement _store()")
