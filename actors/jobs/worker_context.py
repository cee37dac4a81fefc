"""Building the job contexts of a worker process: one per actor process, one per background duty.

A context owns a database engine and a Redis client; :class:`OwnedContext` closes them. The
actors' context is built by the shim's ``WorkerContext`` middleware at each worker's boot
(in every prefork child, after the fork: connections do not survive one).
"""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

import shim
from actors.jobs.cancel_signal import RedisCancelSignals
from actors.jobs.context import JobContext, default_worker_name
from actors.jobs.publish import RedisPublisher
from actors.jobs.sending import make_sender
from store.engine import create_engine, create_session_factory
from store.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class OwnedContext:
    """A job context with the connections it owns."""

    ctx: JobContext
    client: aioredis.Redis
    engine: AsyncEngine

    async def close(self) -> None:
        """Close the Redis client and dispose of the database engine."""
        await self.client.aclose()
        await self.engine.dispose()


@dataclass(frozen=True)
class ContextFactory:
    """Builds job contexts for the processes of one worker: its settings, and the broker it sends on."""

    settings: Settings
    broker: shim.Broker

    def build(self, *, terminate: bool) -> OwnedContext:
        """A job context; ``terminate``: it may end its process (a pool replaces it)."""
        engine = create_engine(self.settings.database_url)
        client = aioredis.Redis.from_url(self.settings.redis.url)
        ctx = JobContext(
            settings=self.settings,
            sessions=create_session_factory(engine),
            publisher=RedisPublisher(client),
            cancel_signals=RedisCancelSignals(client),
            sender=make_sender(self.broker, self.settings.jobs),
            worker_name=default_worker_name(),
            terminate_process=_kill_self if terminate else _cannot_kill,
        )
        return OwnedContext(ctx, client, engine)

    def for_worker(self, worker: shim.Worker) -> JobContext:
        """The actors' context of a booting worker (the ``WorkerContext`` factory); it lives as long as the process."""
        return self.build(terminate=worker.replaceable).ctx


def _kill_self() -> None:
    # The prefork pool replaces the child; the message is redelivered and then ignored
    # because its job is already terminal.
    os.kill(os.getpid(), signal.SIGKILL)


def _cannot_kill() -> None:
    log.error("a fit ignored its stop request, but this worker runs threads and cannot end it")
