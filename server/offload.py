"""The bounded executor for CPU-heavy steps of the web process, with a per-user limit.

Parsing an upload, validating and hashing a large pipeline graph, decoding a large JSON
body: each runs on one of ``server.cpu_threads`` threads, never on the event loop. A user
runs at most ``server.cpu_tasks_per_user`` such steps at once; further ones wait their
turn (first come, first served), and when ``server.cpu_queue_per_user`` are already
waiting the request is refused at once with 429 (``cpu_busy``) and a ``Retry-After``, so
one user can neither occupy every thread nor pile up unbounded work. A step whose request
was abandoned (the client left) keeps its user's slot until its thread is done.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from server.errors import TooManyRequests

T = TypeVar("T")


@dataclass
class _Gate:
    running: int = 0
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class Offload:
    """Runs blocking callables on a bounded pool, at most ``per_user`` at once per user.

    Args:
        threads: Size of the thread pool (``server.cpu_threads``).
        per_user: Steps one user may run at once (``server.cpu_tasks_per_user``).
        queue_per_user: Steps one user may have waiting beyond that (``server.cpu_queue_per_user``).
    """

    def __init__(self, threads: int, per_user: int, queue_per_user: int) -> None:
        self.threads, self.per_user, self.queue_per_user = threads, per_user, queue_per_user
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mlw-cpu")
        self._gates: dict[str, _Gate] = {}

    def load(self, user: str) -> tuple[int, int]:
        """``(running, waiting)`` steps of ``user``."""
        gate = self._gates.get(user)
        return (gate.running, len(gate.waiters)) if gate else (0, 0)

    async def _acquire(self, user: str) -> None:
        gate = self._gates.setdefault(user, _Gate())
        if gate.running < self.per_user and not gate.waiters:
            gate.running += 1
            return
        if len(gate.waiters) >= self.queue_per_user:
            raise TooManyRequests(
                f"you already have {gate.running} heavy requests running and {len(gate.waiters)} waiting "
                f"(server.cpu_tasks_per_user, server.cpu_queue_per_user); retry when they are done",
                code="cpu_busy",
                details={"running": gate.running, "waiting": len(gate.waiters)},
            )
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        gate.waiters.append(turn)
        try:
            await turn  # _release hands its slot over: running stays counted
        except BaseException:
            if turn in gate.waiters:
                gate.waiters.remove(turn)
            elif turn.done() and not turn.cancelled():
                self._release(user)  # the slot was handed over as the wait was cancelled
            raise

    def _release(self, user: str) -> None:
        gate = self._gates[user]
        while gate.waiters:
            turn = gate.waiters.pop(0)
            if not turn.done():
                turn.set_result(None)
                return
        gate.running -= 1
        if gate.running == 0:
            del self._gates[user]

    async def run(self, user: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the pool once ``user`` has a free slot.

        Raises:
            TooManyRequests: ``user`` already has ``queue_per_user`` steps waiting.
        """
        await self._acquire(user)
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))
        except BaseException:
            self._release(user)
            raise
        future.add_done_callback(lambda _: self._release(user))
        return await asyncio.shield(future)

    def shutdown(self) -> None:
        """Stop accepting work; running steps finish on their threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)
