"""Middleware: hooks around declaring, enqueueing and processing messages."""

from __future__ import annotations

from .age_limit import AgeLimit
from .asyncio import AsyncIO
from .callbacks import Callbacks
from .context import WorkerContext
from .current_message import CurrentMessage
from .group_callbacks import GroupCallbacks
from .middleware import Middleware, MiddlewareError, SkipMessage
from .pipelines import Pipelines
from .retries import Retries
from .shutdown import Shutdown, ShutdownNotifications
from .threading import Interrupt, raise_thread_exception
from .time_limit import TimeLimit, TimeLimitExceeded

__all__ = [
    "AgeLimit",
    "AsyncIO",
    "Callbacks",
    "CurrentMessage",
    "GroupCallbacks",
    "Interrupt",
    "Middleware",
    "MiddlewareError",
    "Pipelines",
    "Retries",
    "Shutdown",
    "ShutdownNotifications",
    "SkipMessage",
    "TimeLimit",
    "TimeLimitExceeded",
    "WorkerContext",
    "default_middleware",
    "raise_thread_exception",
]

default_middleware: list[type[Middleware]] = [AgeLimit, TimeLimit, ShutdownNotifications, Callbacks, Pipelines, Retries]
