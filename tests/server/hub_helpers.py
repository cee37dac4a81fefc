"""Helpers of the websocket hub tests: a running app with the hub, jobs moved through the
store's real write path and published with the real ``RedisPublisher``, and a socket reader.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actors.jobs.publish import RedisPublisher
from server.app import create_app
from server.hub import HUB, HUB_PATH, HubConfig, add_hub_route, make_hub_ctx
from store.datasets import create_dataset
from store.engine import create_engine, create_session_factory
from store.jobs import append_event, create_job, transition
from store.pipelines import upsert_pipeline
from store.reader import Reader
from store.settings import Settings
from tests.server.conftest import Person
from tests.server.seed import graph

TEST_CONFIG = HubConfig(backoff_initial_s=0.05, backoff_max_s=0.5, auth_timeout_s=2.0, send_timeout_s=5.0)


def hub_app(settings: Settings, config: HubConfig = TEST_CONFIG) -> web.Application:
    """The real application with the hub plugged in as the lead will plug it."""
    app = create_app(settings, extra_contexts=[make_hub_ctx(config)])
    add_hub_route(app)
    return app


@dataclasses.dataclass
class Jobs:
    """Writes jobs through ``store.jobs`` and publishes each event after commit, like the actor does."""

    sessions: async_sessionmaker[AsyncSession]
    publisher: RedisPublisher

    async def pipeline(self, owner: Person) -> tuple[str, str]:
        """A new dataset and pipeline of ``owner``: ``(dataset_id, pipeline_id)``."""
        async with self.sessions.begin() as session:
            dataset = await create_dataset(
                session,
                owner_id=owner.id,
                name=f"d-{uuid.uuid4().hex[:6]}",
                storage_uri="file:///x.csv",
                format="csv",
                n_rows=10,
                columns=[{"name": "label", "dtype": "object"}],
                sha256="0" * 64,
            )
            reader = Reader(user_id=owner.id, is_admin=owner.is_admin)
            pipeline = await upsert_pipeline(session, dataset_source_id=dataset.id, graph=graph(), reader=reader)
        return dataset.id, pipeline.pipeline_id

    async def create(self, owner: Person, pipeline: tuple[str, str], *, publish: bool = True) -> str:
        dataset_id, pipeline_id = pipeline
        async with self.sessions.begin() as session:
            created = await create_job(
                session,
                pipeline_id=pipeline_id,
                node_id="train-1",
                dataset_source_id=dataset_id,
                user_id=owner.id,
                model_type="logistic_regression",
                hyperparameters={"C": 1.0},
            )
        if publish:
            await self.publisher.publish(owner.id, created.event)
        return created.job.id

    async def move(self, owner: Person, job_id: str, target: str, *, publish: bool = True) -> dict[str, Any]:
        async with self.sessions.begin() as session:
            result = await transition(session, job_id, target)
        assert result is not None
        if publish:
            await self.publisher.publish(owner.id, result.event)
        return result.event

    async def warn(self, owner: Person, job_id: str, message: str, *, publish: bool = True) -> dict[str, Any]:
        async with self.sessions.begin() as session:
            event = await append_event(session, job_id, "job.warning", {"message": message})
        if publish:
            await self.publisher.publish(owner.id, event)
        return event

    async def progress(self, owner: Person, job_id: str, pipeline_id: str, completed: int) -> None:
        """An ephemeral progress event (no seq), as the actor publishes it."""
        event = {
            "type": "job.progress",
            "job_id": job_id,
            "pipeline_id": pipeline_id,
            "node_id": "train-1",
            "status": "running",
            "progress": {"stage": "fit", "completed": completed, "total": 10, "unit": "trees"},
        }
        await self.publisher.publish(owner.id, event)


@asynccontextmanager
async def jobs_writer(settings: Settings, redis_url: str) -> AsyncIterator[Jobs]:
    engine = create_engine(settings.database_url)
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield Jobs(create_session_factory(engine), RedisPublisher(client))
    finally:
        await client.aclose()
        await engine.dispose()


class Socket:
    """A client websocket that keeps every frame it received, in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.close_reason: str = ""

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(frame))

    async def next(self, wait_s: float = 10.0) -> dict[str, Any]:
        """The next text frame; raises ``ConnectionError`` naming the close code once closed."""
        async with asyncio.timeout(wait_s):
            msg = await self.ws.receive()
        if msg.type is aiohttp.WSMsgType.TEXT:
            frame: dict[str, Any] = json.loads(msg.data)
            self.frames.append(frame)
            return frame
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            self.close_code = self.ws.close_code
            self.close_reason = msg.extra or self.close_reason
            raise ConnectionError(f"closed with {self.close_code}: {self.close_reason}")
        raise AssertionError(f"unexpected message {msg.type}: {msg.data!r}")

    async def until(self, predicate: Callable[[dict[str, Any]], bool], wait_s: float = 10.0) -> dict[str, Any]:
        """Read frames until one matches ``predicate``; returns it."""
        async with asyncio.timeout(wait_s):
            while True:
                frame = await self.next(wait_s)
                if predicate(frame):
                    return frame

    async def closed(self, wait_s: float = 30.0) -> int | None:
        """Read until the server closes the socket; returns the close code."""
        try:
            async with asyncio.timeout(wait_s):
                while True:
                    await self.next(wait_s)
        except ConnectionError:
            return self.close_code

    async def subscribe(self, topics: list[dict[str, str]], since: dict[str, int] | None = None) -> dict[str, Any]:
        """Subscribe and return the snapshot."""
        frame: dict[str, Any] = {"op": "subscribe", "topics": topics}
        if since is not None:
            frame["since"] = since
        await self.send(frame)
        return await self.until(lambda f: f["type"] == "snapshot")

    async def sync(self) -> list[dict[str, Any]]:
        """Ping and read up to the pong: everything queued for this socket before it is returned."""
        start = len(self.frames)
        ref = uuid.uuid4().hex
        await self.send({"op": "ping", "ref": ref})
        await self.until(lambda f: f["type"] == "pong" and f.get("ref") == ref)
        return self.frames[start:-1]

    def events(self, job_id: str | None = None) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"].startswith("job.") and job_id in (None, f["job_id"])]

    def seqs(self, job_id: str) -> list[int]:
        return [f["seq"] for f in self.events(job_id) if "seq" in f]

    async def wait_seq(self, job_id: str, seq: int, wait_s: float = 10.0) -> None:
        """Read until the event ``seq`` of ``job_id`` arrived."""
        if seq in self.seqs(job_id):
            return
        await self.until(lambda f: f.get("job_id") == job_id and f.get("seq") == seq, wait_s)


async def connect(client: TestClient[Any, Any], who: Person | None, *, how: str = "header", **kwargs: Any) -> Socket:
    """Open a socket authenticated by header, query token or auth frame; waits for ``welcome``."""
    headers = {}
    params = {}
    if who is not None and how == "header":
        headers = who.headers
    elif who is not None and how == "query":
        params = {"token": who.token}
    ws = await client.ws_connect(HUB_PATH, headers=headers, params=params, **kwargs)
    sock = Socket(ws)
    if who is not None and how == "frame":
        await sock.send({"op": "auth", "token": who.token})
    if who is not None:
        welcome = await sock.next()
        assert welcome["type"] == "welcome", welcome
        assert welcome["user_id"] == who.id
    return sock


def hub_of(client: TestClient[Any, Any]) -> Any:
    return client.app[HUB] if client.app is not None else None
