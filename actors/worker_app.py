"""Wiring the training actor into a process: broker, job context, background duties.

``configure_broker`` is called once per process before ``actors.training`` is imported
(web processes send with it, workers consume with it). ``actors.worker_main`` is the
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
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from actors.cancel_signal import RedisCancelSignals
from actors.context import JobContext, default_worker_name
from actors.publish import RedisPublisher
from shim.brokers.redis import RedisBroker
from store.engine import create_engine, create_session_factory
from store.settings import Settings

log = logging.getLogger(__name__)

WORKER_KEY_PREFIX = "mlw:workers:"
WORKER_KEY_TTL_S = 15
WORKER_BEAT_S = 5.0


def configure_broker(settings: Settings) -> RedisBroker:
    """Install the Redis broker (with the AsyncIO middleware) as the global broker and
    declare ``TrainingActor`` on it."""
    import shim
    from shim.middleware import AsyncIO

    if not settings.redis.url:
        raise RuntimeError("redis.url is empty: set MLW_REDIS_URL (mlw serve passes its embedded Redis)")
    broker = RedisBroker(url=settings.redis.url, visibility_timeout_s=settings.worker.visibility_timeout_s)
    broker.add_middleware(AsyncIO())
    shim.set_broker(broker)
    import actors.training  # noqa: F401 - declares TrainingActor on the broker just set

    return broker


def build_context(settings: Settings, *, terminate: bool) -> tuple[JobContext, aioredis.Redis, Any]:
    """A job context on this event loop; returns it with the Redis client and engine to close."""
    from actors.training import make_sender
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
        self.hostname = f"{socket.gethostname()}:{os.getpid()}"

    def start(self, can_consume: Callable[[], bool] | None = None) -> None:
        """Start the thread (idempotent).

        Args:
            can_consume: Whether the worker's consumer takes messages right now; while it says
                no, the liveness key is withdrawn so ``/ready`` does not count this worker.
        """
        if can_consume is not None:
            self._can_consume = can_consume
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
        from actors.reaper import RedisLock, reap_forever

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        ctx, client, engine = build_context(self._settings, terminate=False)
        key = WORKER_KEY_PREFIX + self.hostname
        reaper = asyncio.create_task(reap_forever(ctx, RedisLock(client), self._stop))
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
        value = json.dumps({"hostname": self.hostname, "pid": os.getpid(), "at": time.time()})
        await client.set(key, value, ex=WORKER_KEY_TTL_S)


def _always() -> bool:
    return True
