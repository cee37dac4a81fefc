"""Rate-limiter backends: in-memory and Redis."""

from __future__ import annotations

from .redis import RedisBackend
from .stub import StubBackend

__all__ = ["RedisBackend", "StubBackend"]
