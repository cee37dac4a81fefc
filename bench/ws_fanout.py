"""Websocket fan-out: one event to N sockets of one user vs N raw Redis subscribers.

Starts an embedded Redis and ``mlw serve --no-worker`` on SQLite. In the same run and from
the same client process it measures, alternately (``--rounds`` of each):

- baseline: ``--clients`` raw Redis pub/sub connections subscribed to the user's channel
  ``mlw:events:{user_id}``;
- hub: ``--clients`` websockets of that user, each subscribed to ``{"user": "me"}``.

Then ``--events`` job events (``job.progress``, the most frequent kind, ~300 bytes) are
published on the channel ``--interval`` seconds apart. Latency of one delivery = the
wall time the client read it minus the wall time stamped in the event just before it was
published (one clock). The percentiles are over every socket and event; the ratios are
hub / baseline. The reader process is the same for both, so its share of the two cores
weighs on both. ``hub.max_sockets_per_user`` is set to 0 (no limit) for the run.

    .venv/bin/python bench/ws_fanout.py [--clients 1000] [--events 30] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._cluster import WS_PATH, MlwServe, raise_open_file_limit, workspace  # noqa: E402

P99_TARGET = 3.0
PAD = "x" * 120  # a progress event of realistic size


def _event(n: int) -> bytes:
    return json.dumps({
        "type": "job.progress", "job_id": "bench-job", "pipeline_id": "bench-pipeline", "node_id": "train",
        "status": "running", "progress": {"stage": "fit", "completed": n, "total": 1000, "unit": "trees"},
        "note": PAD, "t": time.time(),
    }).encode()


async def _publish(redis_url: str, channel: str, events: int, interval: float) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        for n in range(events):
            await client.publish(channel, _event(n))
            await asyncio.sleep(interval)
    finally:
        await client.aclose()


async def _raw_phase(redis_url: str, channel: str, clients: int, events: int, interval: float) -> list[float]:
    latencies: list[float] = []
    subscribers = []
    for _ in range(clients):
        client = aioredis.Redis.from_url(redis_url)
        pubsub = client.pubsub()
        await pubsub.subscribe(channel)
        subscribers.append((client, pubsub))

    async def read(pubsub: aioredis.client.PubSub) -> None:
        got = 0
        while got < events:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
            if message is None:
                continue
            latencies.append(time.time() - json.loads(message["data"])["t"])
            got += 1

    readers = [asyncio.create_task(read(pubsub)) for _, pubsub in subscribers]
    await asyncio.sleep(0.5)
    await _publish(redis_url, channel, events, interval)
    await asyncio.wait_for(asyncio.gather(*readers), timeout=60)
    for client, pubsub in subscribers:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await client.aclose()
    return latencies


async def _hub_phase(url: str, token: str, redis_url: str, channel: str, clients: int, events: int,
                     interval: float) -> list[float]:
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        gate = asyncio.Semaphore(50)

        async def open_one() -> aiohttp.ClientWebSocketResponse:
            async with gate:
                ws = await http.ws_connect(f"{url}{WS_PATH}", headers=headers, compress=0, max_msg_size=0)
                await ws.receive_json(timeout=60)  # welcome
                await ws.send_str(json.dumps({"op": "subscribe", "topics": [{"user": "me"}]}))
                await ws.receive_json(timeout=60)  # snapshot
                return ws

        sockets = await asyncio.gather(*(open_one() for _ in range(clients)))

        async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
            got = 0
            while got < events:
                msg = await ws.receive()
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    raise RuntimeError(f"socket closed: {msg.type} {msg.data} {msg.extra}")
                frame = json.loads(msg.data)
                if frame.get("type") == "job.progress":
                    latencies.append(time.time() - frame["t"])
                    got += 1

        readers = [asyncio.create_task(read(ws)) for ws in sockets]
        await asyncio.sleep(0.5)
        await _publish(redis_url, channel, events, interval)
        await asyncio.wait_for(asyncio.gather(*readers), timeout=60)
        await asyncio.gather(*(ws.close() for ws in sockets))
    return latencies


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _user_id(url: str, token: str) -> str:
    async with aiohttp.ClientSession() as http, http.ws_connect(
        f"{url}{WS_PATH}", headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        welcome = await ws.receive_json(timeout=30)
        return str(welcome["user_id"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--events", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    raise_open_file_limit(max(8192, 4 * args.clients + 1024))
    rows: list[tuple[str, float, float, float]] = []
    with workspace() as (tmp, redis_url):
        serve = MlwServe(tmp, redis_url, {"MLW_HUB_MAX_SOCKETS_PER_USER": "0"})
        with serve.running():
            token = serve.users_create("bench")
            user_id = asyncio.run(_user_id(serve.url, token))
            channel = f"mlw:events:{user_id}"
            raw: list[float] = []
            hub: list[float] = []
            for round_no in range(1, args.rounds + 1):
                r = asyncio.run(_raw_phase(redis_url, channel, args.clients, args.events, args.interval))
                h = asyncio.run(_hub_phase(serve.url, token, redis_url, channel, args.clients, args.events,
                                           args.interval))
                raw += r
                hub += h
                rows.append((f"{round_no}", statistics.median(r) * 1000, _pct(r, 0.99), 0.0))
                rows.append((f"{round_no}", statistics.median(h) * 1000, _pct(h, 0.99), 1.0))
    print(f"clients={args.clients} events={args.events} every {args.interval:g}s, rounds={args.rounds}; "
          f"deliveries per phase = clients x events")
    print(f"{'round':>5} {'system':<28} {'p50 ms':>8} {'p99 ms':>8}")
    for round_no, p50, p99, kind in rows:
        label = "raw Redis subscribers" if kind == 0.0 else "hub websockets (user: me)"
        print(f"{round_no:>5} {label:<28} {p50:8.1f} {p99:8.1f}")
    raw_p50, raw_p99 = statistics.median(raw) * 1000, _pct(raw, 0.99)
    hub_p50, hub_p99 = statistics.median(hub) * 1000, _pct(hub, 0.99)
    print(f"all rounds: raw p50 {raw_p50:.1f} ms p99 {raw_p99:.1f} ms; hub p50 {hub_p50:.1f} ms p99 {hub_p99:.1f} ms")
    print(f"hub/raw: p50 {hub_p50 / raw_p50:.2f}x, p99 {hub_p99 / raw_p99:.2f}x")
    ok = hub_p99 <= P99_TARGET * raw_p99
    print(f"target: hub p99 <= {P99_TARGET:g}x raw Redis p99: {hub_p99 / raw_p99:.2f}x {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
