"""Background work of a web process: one named task, a periodic loop, a Redis subscription.

The token-use recorder, the revocation listener and the hub's event fan-out each run one
task for the life of the process; they share its start/stop, and the two subscribers share
the reconnect loop: connect, (P)SUBSCRIBE and wait for the server's confirmation (only that
proves later publishes reach us), hand each message over, and on a lost connection close it
and try again after the next backoff delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, NoReturn

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

SUBSCRIBE_TIMEOUT_S = 10.0
"""How long the server's confirmation of a (P)SUBSCRIBE may take before the attempt counts as failed."""


class Background:
    """One named asyncio task running ``run`` from :meth:`start` until :meth:`stop`."""

    def __init__(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        self._name = name
        self._run = run
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the task unless it runs already; returns at once."""
        if self._task is None:
            self._task = asyncio.create_task(self._main(), name=self._name)

    async def _main(self) -> None:
        await self._run()

    async def stop(self) -> None:
        """Cancel the task and wait until it has ended."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def every(
    interval_s: float, work: Callable[[], Awaitable[object]], failed: Callable[[Exception], None]
) -> NoReturn:
    """Run ``work`` every ``interval_s`` seconds for ever; a failure goes to ``failed`` and the loop goes on."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await work()
        except Exception as exc:
            failed(exc)


async def keep_subscribed(
    connect: Callable[[], aioredis.Redis],
    channel: str,
    *,
    pattern: bool,
    delays: Callable[[], Iterator[float]],
    up: Callable[[], None],
    message: Callable[[dict[str, Any]], None],
    down: Callable[[BaseException], None],
) -> NoReturn:
    """Hold a subscription to ``channel`` (a pattern when ``pattern``) for ever.

    ``up`` is called each time it is (re-)established, before any message (messages
    published meanwhile are lost); ``message`` for each message; ``down`` when it is lost.
    """
    waits = delays()
    while True:
        client = connect()
        pubsub = client.pubsub()
        try:
            await _subscribe(pubsub, channel, pattern)
            waits = delays()
            up()
            while True:
                received = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if received is not None:
                    message(received)
        except (RedisError, OSError) as exc:  # OSError covers the confirmation's TimeoutError
            down(exc)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            with contextlib.suppress(RedisError, OSError):
                await client.aclose()
        await asyncio.sleep(next(waits))


async def _subscribe(pubsub: aioredis.client.PubSub, channel: str, pattern: bool) -> None:
    kind = "psubscribe" if pattern else "subscribe"
    await (pubsub.psubscribe(channel) if pattern else pubsub.subscribe(channel))
    async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
        while True:
            reply = await pubsub.get_message(timeout=1.0)
            if reply is not None and reply.get("type") == kind:
                return
