"""A worker node's background duties: its liveness record for ``/ready``, the reaper and the
sweep of temporary objects (``actors.jobs.temp_sweep``).

They run once per worker node, on a thread of its main process, from the node's ready hook
to its shutdown hook (``shim.brokers.node``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
import time

import redis.asyncio as aioredis

from actors.jobs.fork_gate import FORK_GATE, ForkSafeLock
from actors.jobs.worker_context import ContextFactory
from shim.brokers.node import WorkerNode

log = logging.getLogger(__name__)

WORKER_KEY_PREFIX = "mlw:workers:"
WORKER_KEY_TTL_S = 15
WORKER_BEAT_S = 5.0


class WorkerDuties:
    """A worker's background thread: liveness key for ``/ready``, the reaper and the temporary-object sweep."""

    def __init__(self, contexts: ContextFactory) -> None:
        self._contexts = contexts
        self._settings = contexts.settings
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._node = WorkerNode()
        self.hostname = f"{socket.gethostname()}:{os.getpid()}"

    def start(self, node: WorkerNode | None = None) -> None:
        """Start the thread (idempotent).

        Args:
            node: The worker node (``shim.brokers.node.on_node_ready``): while it takes no
                messages the liveness key is withdrawn so ``/ready`` does not count this worker,
                and its description (``concurrency``, ``pool``, ``node``, ``processes``: the pids
                that run jobs) is read at each beat for ``GET /workers``.
        """
        if node is not None:
            self._node = node
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
        from actors.jobs.temp_sweep import sweep_forever

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        owned = self._contexts.build(terminate=False)
        ctx, client = owned.ctx, owned.client
        key = WORKER_KEY_PREFIX + self.hostname
        # A worker killed mid-pass leaves its lock behind until the TTL: with the default 60 s every
        # other reaper would wait that long (twice the default stale period, twenty times a short one).
        # One stale period bounds the delay; passes take milliseconds, and an overlap is harmless
        # because every reaper write is conditional on the job's status (and a running job's attempt).
        lock = ForkSafeLock(RedisLock(client, ttl_s=self._settings.jobs.stale_after_s), FORK_GATE)
        reaper = asyncio.create_task(reap_forever(ctx, lock, self._stop))
        sweeper = asyncio.create_task(sweep_forever(ctx.settings, ctx.storage, client, self.hostname, self._stop))
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
            await sweeper
            with contextlib.suppress(Exception):  # the key expires on its own
                await client.delete(key)
            await owned.close()

    async def _beat(self, client: aioredis.Redis, key: str) -> None:
        if not self._node.consuming():
            # Not refreshed, the key expires: a worker that keeps taking no message stops counting
            # for /ready, while one unlucky sample (a delivery between two bookkeeping steps) costs nothing.
            log.warning("worker is not consuming: liveness not refreshed")
            return
        try:
            extra = self._node.describe()
            if extra and extra.get("concurrency") is None:
                extra["concurrency"] = self._settings.worker.concurrency
        except Exception as exc:  # a description is a nicety; liveness is what matters
            log.warning("worker description unavailable: %s", exc)
            extra = {}
        value = json.dumps({**extra, "hostname": self.hostname, "pid": os.getpid(), "at": time.time()})
        await client.set(key, value, ex=WORKER_KEY_TTL_S)
