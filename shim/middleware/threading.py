"""Re-exports of the thread-interrupt helpers under Dramatiq's module path."""

from __future__ import annotations

from ..threading import Interrupt, current_platform, is_gevent_active, raise_thread_exception, supported_platforms

__all__ = ["Interrupt", "current_platform", "is_gevent_active", "raise_thread_exception", "supported_platforms"]
