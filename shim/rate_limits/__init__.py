"""Rate-limiter backends and the barrier used by group completion callbacks."""

from __future__ import annotations

from .backend import RateLimiterBackend
from .barrier import Barrier

__all__ = ["Barrier", "RateLimiterBackend"]
