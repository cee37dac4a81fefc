"""An in-memory result backend for tests."""

from __future__ import annotations

import time
from typing import Any

from ..backend import Missing, ResultBackend


class StubBackend(ResultBackend):
    """Results in a class-level dict (shared by instances, as in Dramatiq)."""

    results: dict[str, tuple[bytes, float]] = {}

    def _get(self, message_key: str) -> Any:
        data, expiration = self.results.get(message_key, (None, None))
        if data is not None and expiration is not None and time.monotonic() < expiration:
            return self.encoder.decode(data)
        return Missing

    def _store(self, message_key: str, result: Any, ttl: int) -> None:
        self.results[message_key] = (self.encoder.encode(result), time.monotonic() + int(ttl / 1000))
