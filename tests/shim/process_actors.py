"""Actors for the separate-process tests: ``python -m shim tests.shim.process_actors``.

The broker's Redis URL comes from ``SHIM_PROCESS_REDIS_URL`` (set by the test).
"""

from __future__ import annotations

import asyncio
import os
import time

import redis

import shim
from shim.abort import Abortable, abort_requested
from shim.abort import RedisBackend as AbortBackend
from shim.brokers.redis import RedisBroker
from shim.middleware import AsyncIO
from shim.results import Results
from shim.results.backends import RedisBackend

URL = os.environ.get("SHIM_PROCESS_REDIS_URL", "redis://127.0.0.1:6379/0")
client = redis.Redis.from_url(URL)
broker = RedisBroker(url=URL, visibility_timeout_s=900)
broker.add_middleware(Results(backend=RedisBackend(url=URL), store_results=True))
broker.add_middleware(AsyncIO())
broker.add_middleware(Abortable(backend=AbortBackend(client=client)))
shim.set_broker(broker)


@shim.actor(max_retries=3, min_backoff=10, max_backoff=50, time_limit=60_000)
def flaky(key: str) -> int:
    attempts = int(client.incr(key))
    if attempts < 3:
        raise RuntimeError(f"attempt {attempts} fails")
    return attempts


@shim.actor(time_limit=300, max_retries=0)
def spins() -> None:
    while True:
        time.sleep(0.01)


@shim.actor(time_limit=60_000)
async def async_pid() -> int:
    await asyncio.sleep(0.01)
    return os.getpid()


class Trainer(shim.GenericActor):
    """A class-based async actor that keeps going until aborted."""

    class Meta:
        queue_name = "training"
        max_retries = 2
        time_limit = 30_000

    async def perform(self, job_id: str) -> str:
        client.set(f"started:{job_id}", os.getpid())
        while True:
            if abort_requested() is not None:
                client.set(f"noticed:{job_id}", 1)
            await asyncio.sleep(0.01)
