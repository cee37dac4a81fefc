"""Wiring the job actors into a process: broker, job context, background duties.

``configure_broker`` is called once per process before the actor modules are imported
(web processes send with it, workers consume with it). ``actors.jobs.worker_main`` is the
module a worker process loads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis

from actors.jobs.cancel_signal import RedisCancelSignals
from actors.jobs.context import JobContext, default_worker_name
from actors.jobs.publish import RedisPublisher
from shim.brokers.redis import RedisBroker
from store.engine import create_engine, create_session_factory
from store.settings import Settings

if TYPE_CHECKING:
    from actors.jobs.reaper import Lock

log = logging.getLogger(__name__)

WORKER_KEY_PREFIX = "mlw:workers:"
WORKER_KEY_TTL_S = 15
WORKER_BEAT_S = 5.0
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


def configure_broker(settings: Settings) -> RedisBroker:
    """Install the Redis broker (with the AsyncIO middleware) as the global broker and
    declare every job kind's actor on it (``actors.jobs.kinds.ACTOR_MODULES``)."""
    import shim
    from shim.middleware import AsyncIO

    if not settings.redis.url:
        raise RuntimeError("redis.url is empty: set MLW_REDIS_URL (mlw serve passes its embedded Redis)")
    broker = RedisBroker(
        url=settings.redis.url, visibility_timeout_s=settings.worker.visibility_timeout_s,
        events=settings.worker.send_events, remote_control=settings.worker.remote_control,
    )
    broker.add_middleware(AsyncIO())
    shim.set_broker(broker)
    import importlib

    from actors.jobs.kinds import ACTOR_MODULES

    for module in ACTOR_MODULES:
        importlib.import_module(module)  # declares the module's actor on the broker just set

    return broker


def build_context(settings: Settings, *, terminate: bool) -> tuple[JobContext, aioredis.Redis, Any]:
    """A job context on this event loop; returns it with the Redis client and engine to close."""
    from actors.jobs.job_actor import make_sender
    from shim import get_broker

    engine = create_engine(settings.database_url)
    client = aioredis.Redis.from_url(settings.redis.url)
    ctx = JobContext(
        settings=settings,
        sessions=create_session_factory(engine),
        publisher=RedisPublisher(client),
        cancel_signals=RedisCancelSignals(client),
        sender=make_sender(get_broker(), settings.jobs.cancel_grace_s, settings.jobs.default_max_runtime_s),
        worker_name=default_worker_name(),
        terminate_process=_kill_self if terminate else _cannot_kill,
    )
    return ctx, client, engine


def _kill_self() -> None:
    # The prefork pool replaces the child; the message is redelivered and then ignored
    # because its job is already terminal.
    os.kill(os.getpid(), signal.SIGKILL)


def _cannot_kill() -> None:
    log.error("a fit ignored its stop request, but this worker runs threads and cannot end it")


class ProcessContext:
    """The one job context of a worker process, built lazily on the actor's event loop."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._ctx: JobContext | None = None
        self._pid = 0

    async def get(self) -> JobContext:
        """The context, rebuilt after a fork (connections do not survive one)."""
        if self._ctx is None or self._pid != os.getpid():
            self._ctx, _client, _engine = build_context(self._settings, terminate=_in_prefork_child())
            self._pid = os.getpid()
        return self._ctx


def _in_prefork_child() -> bool:
    try:
        from billiard.process import current_process
    except ImportError:  # pragma: no cover - billiard ships with celery
        return False
    return str(current_process().name).startswith("ForkPoolWorker")


class WorkerDuties:
    """A worker's background thread: liveness key for ``/ready`` and the reaper."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._can_consume: Callable[[], bool] = _always
        self._describe: Callable[[], dict[str, Any]] = dict
        self.hostname = f"{socket.gethostname()}:{os.getpid()}"

    def start(
        self, can_consume: Callable[[], bool] | None = None, describe: Callable[[], dict[str, Any]] | None = None
    ) -> None:
        """Start the thread (idempotent).

        Args:
            can_consume: Whether the worker's consumer takes messages right now; while it says
                no, the liveness key is withdrawn so ``/ready`` does not count this worker.
            describe: More of the liveness record (``concurrency``, ``pool``, ``node``,
                ``processes``: the pids that run jobs), read at each beat for ``GET /workers``.
        """
        if can_consume is not None:
            self._can_consume = can_consume
        if describe is not None:
            self._describe = describe
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mlw-worker-duties", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and remove the liveness key."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        from actors.jobs.reaper import RedisLock, reap_forever

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        ctx, client, engine = build_context(self._settings, terminate=False)
        key = WORKER_KEY_PREFIX + self.hostname
        # A worker killed mid-pass leaves its lock behind until the TTL: with the default 60 s every
        # other reaper would wait that long (twice the default stale period, twenty times a short one).
        # One stale period bounds the delay; passes take milliseconds, and an overlap is harmless
        # because every reaper write is conditional on the job's status (and a running job's attempt).
        lock = ForkSafeLock(RedisLock(client, ttl_s=self._settings.jobs.stale_after_s), FORK_GATE)
        reaper = asyncio.create_task(reap_forever(ctx, lock, self._stop))
        try:
            while not self._stop.is_set():
                try:
                    await self._beat(client, key)
                except Exception as exc:  # Redis away: keep trying, /ready reports it meanwhile
                    log.warning("worker liveness not recorded: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=WORKER_BEAT_S)
        finally:
            self._stop.set()
            await reaper
            with contextlib.suppress(Exception):  # the key expires on its own
                await client.delete(key)
            await client.aclose()
            await engine.dispose()

    async def _beat(self, client: aioredis.Redis, key: str) -> None:
        if not self._can_consume():
            # Not refreshed, the key expires: a worker that keeps taking no message stops counting
            # for /ready, while one unlucky sample (a delivery between two bookkeeping steps) costs nothing.
            log.warning("worker is not consuming: liveness not refreshed")
            return
        try:
            extra = self._describe()
        except Exception as exc:  # a description is a nicety; liveness is what matters
            log.warning("worker description unavailable: %s", exc)
            extra = {}
        value = json.dumps({**extra, "hostname": self.hostname, "pid": os.getpid(), "at": time.time()})
        await client.set(key, value, ex=WORKER_KEY_TTL_S)


def _always() -> bool:
    return True
