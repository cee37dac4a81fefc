"""Raising exceptions asynchronously in other threads (CPython only)."""

from __future__ import annotations

import ctypes
import logging
import platform

from .errors import Interrupt

__all__ = ["Interrupt", "current_platform", "is_gevent_active", "raise_thread_exception", "supported_platforms"]

logger = logging.getLogger(__name__)

current_platform = platform.python_implementation()
supported_platforms = {"CPython"}


def is_gevent_active() -> bool:
    """Whether gevent monkey patching is active (never, for the shim)."""
    return False


def raise_thread_exception(thread_id: int, exception: type[BaseException]) -> None:
    """Raise ``exception`` in the thread ``thread_id`` the next time it holds the GIL.

    Blocking system calls are not interrupted; the exception fires when they return.
    """
    if current_platform not in supported_platforms:
        logger.critical("Setting thread exceptions (%s) is not supported on %r.", exception.__name__, current_platform)
        return
    count = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exception))
    if count == 0:
        logger.critical("Failed to set exception (%s) in thread %r.", exception.__name__, thread_id)
    elif count > 1:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
