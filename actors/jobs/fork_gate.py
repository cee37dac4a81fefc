"""Holding ``fork()`` of a worker's main process off while its own threads are inside the database.

The worker's main process writes the database from threads of its own (the reaper, a
Celery revoke's cancel) and forks a new pool child whenever one dies; see :class:`ForkGate`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from actors.jobs.reaper import Lock

log = logging.getLogger(__name__)

FORK_WAIT_S = 30.0
"""How long a fork waits for a reaper pass to end (a pass normally takes milliseconds)."""


class ForkGate:
    """Holds ``fork()`` of this process off while its reaper is inside the database.

    SQLite keeps a process's lock bookkeeping in memory and ``fork()`` copies it: a child
    forked while another thread of the parent is inside a write transaction inherits that
    transaction's locks as phantoms, and every write of the child then fails with
    ``database is locked``. Celery's main process runs the reaper thread and forks a new
    pool child whenever one dies, so each reaper pass goes through this gate and a fork
    waits for the pass to end. Idle pooled connections are safe to fork over.
    """

    def __init__(self, fork_wait_s: float = FORK_WAIT_S) -> None:
        self._lock = threading.Lock()
        self._held_for_fork = False
        self._fork_wait_s = fork_wait_s
        os.register_at_fork(
            before=self._before_fork, after_in_parent=self._after_fork_in_parent,
            after_in_child=self._after_fork_in_child,
        )

    def enter(self) -> None:
        """Start a pass; waits while a fork is under way (milliseconds)."""
        self._lock.acquire()

    def leave(self) -> None:
        self._lock.release()

    def _before_fork(self) -> None:
        self._held_for_fork = self._lock.acquire(timeout=self._fork_wait_s)
        if not self._held_for_fork:
            log.error("forking while the reaper is still inside the database after %.0f s", self._fork_wait_s)

    def _after_fork_in_parent(self) -> None:
        if self._held_for_fork:
            self._held_for_fork = False
            self._lock.release()

    def _after_fork_in_child(self) -> None:
        self._lock, self._held_for_fork = threading.Lock(), False


FORK_GATE = ForkGate()
"""The gate of this process (the fork handlers can only be registered, never removed)."""


def run_gated(factory: Callable[[], Coroutine[Any, Any, Any]]) -> None:
    """Run a coroutine that uses the database in a worker's main process, holding the fork gate."""
    FORK_GATE.enter()
    try:
        asyncio.run(factory())
    finally:
        FORK_GATE.leave()


class ForkSafeLock:
    """The reaper's lock, holding ``gate`` for the whole pass: the pass is where the database is used."""

    def __init__(self, inner: Lock, gate: ForkGate) -> None:
        self._inner, self._gate = inner, gate

    async def acquire(self) -> bool:
        self._gate.enter()
        try:
            held = await self._inner.acquire()
        except BaseException:
            self._gate.leave()
            raise
        if not held:
            self._gate.leave()
        return held

    async def release(self) -> None:
        try:
            await self._inner.release()
        finally:
            self._gate.leave()
