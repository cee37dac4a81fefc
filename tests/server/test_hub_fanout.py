"""The fan-out: one decode per event, the published bytes handed to every socket, no socket waited for."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import redis.asyncio as aioredis

from server.hub import CloseCode, HubConfig, RedisState
from server.hub.client import HubClient
from server.hub.fanout import Fanout, Published, redis_connector
from server.hub.protocol import ME, Subscribe
from server.hub.source import Principal

LISTENERS = 500


class Counted:
    """``json.loads`` that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, data: bytes) -> Any:
        self.calls += 1
        return json.loads(data)


class Collector:
    """A listener that keeps what it was handed."""

    def __init__(self) -> None:
        self.got: list[bytes] = []
        self.arrived = asyncio.Event()

    def deliver(self, owner_id: str, published: Published) -> None:
        self.got.append(published.for_reader(is_admin=False))
        self.arrived.set()

    def resync(self) -> None:
        pass


async def test_an_event_is_decoded_once_and_every_listener_gets_the_same_published_bytes(redis_url: str) -> None:
    decode = Counted()
    config = HubConfig()
    fanout = Fanout(redis_connector(redis_url), config, decode=decode)
    listeners = [Collector() for _ in range(LISTENERS)]
    for listener in listeners:
        fanout.add(listener)
    fanout.start()
    publisher = aioredis.Redis.from_url(redis_url)
    try:
        await fanout.wait_for(RedisState.UP)
        published = json.dumps({"type": "job.progress", "job_id": "j1", "progress": {"completed": 1}}).encode()
        await publisher.publish("mlw:events:u1", published)
        async with asyncio.timeout(10):
            await asyncio.gather(*(listener.arrived.wait() for listener in listeners))
    finally:
        await publisher.aclose()
        await fanout.stop()

    assert decode.calls == 1
    first = listeners[0].got[0]
    assert first == published
    assert all(len(listener.got) == 1 and listener.got[0] is first for listener in listeners)


async def test_events_arriving_while_no_socket_is_open_are_not_decoded_and_later_ones_are(redis_url: str) -> None:
    decode = Counted()
    fanout = Fanout(redis_connector(redis_url), HubConfig(), decode=decode)
    fanout.start()
    publisher = aioredis.Redis.from_url(redis_url)
    listener = Collector()
    unheard = json.dumps({"type": "job.progress", "job_id": "j1", "progress": {"completed": 1}}).encode()
    heard = json.dumps({"type": "job.progress", "job_id": "j2", "progress": {"completed": 2}}).encode()
    try:
        await fanout.wait_for(RedisState.UP)
        for _ in range(20):  # the web process's own submissions come back to it on this channel
            await publisher.publish("mlw:events:u1", unheard)
        await asyncio.sleep(0.5)
        decoded_without_listeners = decode.calls
        fanout.add(listener)
        await publisher.publish("mlw:events:u1", heard)
        async with asyncio.timeout(10):
            while heard not in listener.got:
                listener.arrived.clear()
                await listener.arrived.wait()
    finally:
        await publisher.aclose()
        await fanout.stop()

    assert decoded_without_listeners == 0
    # Only what reached a listener was decoded (on a slow machine some of the 20 may arrive after it).
    assert decode.calls == len(listener.got)
    assert listener.got[-1] == heard


def test_an_event_with_admin_only_fields_is_encoded_once_for_all_non_admins() -> None:
    event = {"type": "job.status", "job_id": "j", "seq": 2, "status": "running", "worker": "host:1"}
    published = Published(event, json.dumps(event).encode())

    redacted = [published.for_reader(is_admin=False) for _ in range(100)]

    assert all(data is redacted[0] for data in redacted)
    assert "worker" not in json.loads(redacted[0])
    assert published.for_reader(is_admin=True) is published.data


class NoSource:
    """Database reads for clients that only stream ephemeral events: none are needed."""

    async def authenticate(self, token: str) -> Principal | None:
        return None

    async def live_tokens(self, token_hashes: Any) -> set[str]:
        return set()

    async def jobs(self, principal: Principal, topic: Any, limit: int) -> list[dict[str, Any]]:
        return []

    async def events_after(self, principal: Principal, job_id: str, seq: int, limit: int) -> list[dict[str, Any]]:
        return []


async def test_a_socket_whose_write_never_ends_delays_no_other_and_is_closed_when_its_queue_fills() -> None:
    config = HubConfig(queue_size=20)
    stuck = asyncio.Event()  # never set: the peer of this socket stopped reading
    closed: list[int] = []
    fast_sent: list[bytes] = []

    async def blocked_send(data: bytes) -> None:
        await stuck.wait()

    async def fast_send(data: bytes) -> None:
        fast_sent.append(data)

    principal = Principal("u1")
    slow = HubClient(principal, NoSource(), config, blocked_send, lambda code, _reason: closed.append(code))
    fast = [HubClient(principal, NoSource(), config, fast_send, lambda code, _reason: None) for _ in range(50)]
    tasks = [asyncio.create_task(client.run()) for client in (slow, *fast)]
    try:
        for client in (slow, *fast):
            client.subscribe(Subscribe((ME,), {}))
        events = [json.dumps({"type": "job.progress", "job_id": "j", "n": n}).encode() for n in range(100)]
        for n, data in enumerate(events):
            published = Published({"type": "job.progress", "job_id": "j", "n": n}, data)
            for client in (slow, *fast):
                client.deliver("u1", published)
            await asyncio.sleep(0)
        async with asyncio.timeout(10):
            while len(fast_sent) < 50 * (len(events) + 1):  # noqa: ASYNC110 - the senders run on their own
                await asyncio.sleep(0.01)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    assert closed == [CloseCode.TOO_SLOW]
    for data in events:
        assert sum(1 for sent in fast_sent if sent is data) == 50  # the published bytes themselves, 50 times
