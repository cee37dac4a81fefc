"""The per-process event-loop thread that runs ``async def`` actors."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from .errors import Interrupt

__all__ = ["EventLoopThread", "async_to_sync", "get_event_loop_thread", "set_event_loop_thread"]

R = TypeVar("R")
P = ParamSpec("P")

_event_loop_thread: EventLoopThread | None = None


def get_event_loop_thread() -> EventLoopThread | None:
    """The process's event loop thread, if the AsyncIO middleware started one."""
    return _event_loop_thread


def set_event_loop_thread(thread: EventLoopThread | None) -> None:
    """Set the process's event loop thread."""
    global _event_loop_thread
    _event_loop_thread = thread


def async_to_sync(async_fn: Callable[P, Awaitable[R]]) -> Callable[P, R]:
    """Wrap an async callable so that calling it runs it on the event loop thread and waits."""

    @functools.wraps(async_fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        thread = get_event_loop_thread()
        if thread is None:
            raise RuntimeError(
                "Global event loop thread not set. Have you added the AsyncIO middleware to your middleware stack?"
            )
        return thread.run_coroutine(async_fn(*args, **kwargs))

    return wrapper


class EventLoopThread(threading.Thread):
    """A daemon thread running an asyncio event loop.

    Args:
        logger: Where to log lifecycle messages.
        interrupt_check_ival: How often (seconds) a waiting worker thread wakes up so that an
            asynchronously raised Interrupt (time limit, abort, shutdown) reaches it.
    """

    def __init__(self, logger: logging.Logger, interrupt_check_ival: float = 0.1) -> None:
        super().__init__(daemon=True, name="shim-event-loop")
        self.interrupt_check_ival = interrupt_check_ival
        self.logger = logger
        self.loop = asyncio.new_event_loop()

    def run(self) -> None:
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def start(self, *, timeout: float | None = None) -> None:
        """Start the loop thread and wait until the loop runs.

        Raises:
            RuntimeError: If the loop does not start within ``timeout`` seconds.
        """
        super().start()
        ready = threading.Event()
        self.loop.call_soon_threadsafe(ready.set)
        if not ready.wait(timeout=timeout):
            raise RuntimeError("Event loop failed to start.")

    def stop(self) -> None:
        """Stop the loop and wait for the thread to exit."""
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.join()

    def run_coroutine(self, coro: Awaitable[R]) -> R:
        """Run a coroutine on the loop and block until it finishes.

        An Interrupt raised in the calling thread cancels the coroutine, waits (up to 1 s)
        for its cleanup and re-raises.

        Raises:
            RuntimeError: When the loop is not running.
        """
        if not self.loop.is_running():
            raise RuntimeError("Event loop is not running.")
        done = threading.Event()

        async def wrapped() -> R:
            try:
                return await coro
            finally:
                done.set()

        future: concurrent.futures.Future[R] | None = asyncio.run_coroutine_threadsafe(
            _as_coroutine(wrapped()), self.loop
        )
        assert future is not None
        try:
            while True:
                try:
                    return future.result(timeout=self.interrupt_check_ival)
                except concurrent.futures.TimeoutError:
                    if not future.done():
                        continue
                return future.result(timeout=0)
        except Interrupt as exc:
            self.loop.call_soon_threadsafe(future.cancel)
            if not done.wait(timeout=1.0):
                raise RuntimeError("Timed out while waiting for coroutine.") from exc
            raise
        finally:
            future = None


def _as_coroutine(awaitable: Coroutine[Any, Any, R]) -> Coroutine[Any, Any, R]:
    return awaitable
