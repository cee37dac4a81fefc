"""The hub under stress: a client that stops reading, and a Redis server that restarts."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from actors.jobs.publish import RedisPublisher
from server.hub import HUB_PATH, CloseCode, RedisState
from server.redis_server import EmbeddedRedis
from store.engine import create_engine, create_session_factory
from store.settings import RedisSettings, Settings
from tests.server.conftest import ClientFactory, People
from tests.server.hub_helpers import TEST_CONFIG, Jobs, Socket, connect, hub_app, hub_of, jobs_writer

FAST_CLIENTS = 100


def _small_receive_buffer(addr_info: Any) -> socket.socket:
    family, type_, proto, _, _ = addr_info
    sock = socket.socket(family=family, type=type_, proto=proto)
    # A tiny window: the server's writes to this peer back up after a few frames.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return sock


@pytest.mark.slow
async def test_a_client_that_stops_reading_delays_no_one_and_is_closed_once_its_queue_is_full(
    settings: Settings, people: People, redis_url: str, aiohttp_client: ClientFactory
) -> None:
    config = dataclasses.replace(TEST_CONFIG, queue_size=4)
    client = await aiohttp_client(hub_app(settings, config))
    hub = hub_of(client)
    await hub.fanout.wait_for(RedisState.UP)
    async with jobs_writer(settings, redis_url) as jobs:
        pipeline = await jobs.pipeline(people.alice)
        job_id = await jobs.create(people.alice, pipeline)
        await jobs.move(people.alice, job_id, "running")
        fast = [await connect(client, people.alice) for _ in range(FAST_CLIENTS)]
        for sock in fast:
            await sock.subscribe([{"job_id": job_id}])
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(socket_factory=_small_receive_buffer)) as raw:
            url = client.make_url(HUB_PATH)
            slow = Socket(await raw.ws_connect(url, headers=people.admin.headers, compress=0))
            await slow.next()  # welcome
            await slow.subscribe([{"job_id": job_id}])
            slow_state = next(c for c in hub.clients if c.principal.user_id == people.admin.id)

            # Lock-step: every event reaches all fast clients while the slow one reads nothing.
            last = 2
            while slow_state.closed_with is None:
                assert last < 500, "the slow client was never closed"
                last = (await jobs.warn(people.alice, job_id, "w" * 16_000))["seq"]
                await asyncio.gather(*(sock.wait_seq(job_id, last) for sock in fast))

            for sock in fast:
                assert sock.seqs(job_id) == list(range(3, last + 1))
            assert slow_state.closed_with == CloseCode.TOO_SLOW
            assert await slow.closed() == CloseCode.TOO_SLOW
            assert "reconnect with since" in slow.close_reason
            received = slow.seqs(job_id)
            assert received == list(range(3, 3 + len(received)))  # a prefix, in order
            assert len(received) < last - 2
        for sock in fast:
            await sock.ws.close()  # the test client holds at most 100 connections

        await jobs.move(people.alice, job_id, "succeeded")
        again = await connect(client, people.admin)
        await again.subscribe([{"job_id": job_id}], since={job_id: received[-1] if received else 2})
        await again.wait_seq(job_id, last + 1)
        await again.sync()
        assert again.seqs(job_id) == list(range((received[-1] if received else 2) + 1, last + 2))


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(workdir=tmp_path / "redis") as server:
        yield server


def _truth_of(sock: Socket, job_id: str) -> tuple[list[int], str]:
    events = [e for e in sock.events(job_id) if "seq" in e]
    return [e["seq"] for e in events], events[-1]["status"] if events else ""


@pytest.mark.slow
async def test_after_a_redis_restart_every_client_converges_to_the_database_state(
    settings: Settings, people: People, private_redis: EmbeddedRedis, aiohttp_client: ClientFactory
) -> None:
    settings = dataclasses.replace(settings, redis=RedisSettings(url=private_redis.url))
    client = await aiohttp_client(hub_app(settings))
    hub = hub_of(client)
    await hub.fanout.wait_for(RedisState.UP)
    engine = create_engine(settings.database_url)
    publishing = aioredis.Redis.from_url(private_redis.url, retry=Retry(NoBackoff(), 0))
    try:
        jobs = Jobs(create_session_factory(engine), RedisPublisher(publishing))
        pipeline = await jobs.pipeline(people.alice)
        first = await jobs.create(people.alice, pipeline)
        sockets = [await connect(client, people.alice) for _ in range(5)]
        for sock in sockets:
            await sock.subscribe([{"user": "me"}])
        await jobs.move(people.alice, first, "running")
        for sock in sockets:
            await sock.wait_seq(first, 2)

        await asyncio.to_thread(private_redis.stop)
        await hub.fanout.wait_for(RedisState.DOWN)
        assert not hub.status.ready
        await jobs.warn(people.alice, first, "published into the void")  # the publish fails and is swallowed
        await jobs.move(people.alice, first, "succeeded")
        second = await jobs.create(people.alice, pipeline)
        await jobs.move(people.alice, second, "running")
        late = await connect(client, people.alice)  # the server keeps serving while Redis is down
        late_snapshot = await late.subscribe([{"user": "me"}])

        await asyncio.to_thread(private_redis.start)
        await hub.fanout.wait_for(RedisState.UP, connects_at_least=2)
        await jobs.move(people.alice, second, "succeeded")

        for sock in sockets:
            await sock.wait_seq(first, 4)
            await sock.wait_seq(second, 3)
            await sock.sync()
            assert _truth_of(sock, first) == ([2, 3, 4], "succeeded")
            assert _truth_of(sock, second) == ([1, 2, 3], "succeeded")
        await late.wait_seq(second, 3)
        await late.sync()
        assert {row["id"]: (row["status"], row["last_seq"]) for row in late_snapshot["jobs"]} == {
            first: ("succeeded", 4),
            second: ("running", 2),
        }
        assert _truth_of(late, second) == ([3], "succeeded")
        assert hub.status.ready
        assert hub.status.connects == 2
    finally:
        await publishing.aclose()
        await engine.dispose()
