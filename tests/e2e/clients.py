"""Clients of a running deployment, as the canvas uses it: the REST API and the websocket.

:class:`LiveSocket` reads every frame in a background task and keeps all of them, so a
test can wait for a frame and, at the end, inspect everything the socket ever received.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text

from store.engine import create_engine
from tests.e2e.processes import API, WS_PATH

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
Frame = dict[str, Any]


class Api:
    """One user's REST client on one web process.

    Args:
        session: The HTTP session (the caller closes it).
        base_url: ``http://host:port`` of the web process.
        token: The user's API token.
    """

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.session = session
        self.base_url = base_url
        self.token = token
        self._headers = {"Authorization": f"Bearer {token}"}

    async def _json(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        async with self.session.request(method, f"{self.base_url}{API}{path}", headers=self._headers, **kwargs) as r:
            body = await r.json(content_type=None)
            assert r.status == expect, f"{method} {path}: {r.status} {body}"
            return body

    async def upload_dataset(self, path: Path) -> str:
        """Upload a CSV; returns the dataset id."""
        form = aiohttp.FormData()
        form.add_field("file", path.read_bytes(), filename=path.name, content_type="text/csv")
        body = await self._json("POST", "/datasets", 201, data=form)
        return str(body["id"])

    async def save_pipeline(self, dataset_id: str, graph: dict[str, Any]) -> str:
        """Save the graph as the canvas autosaves it; returns the pipeline id."""
        async with self.session.put(
            f"{self.base_url}{API}/pipelines", headers=self._headers,
            json={"dataset_source_id": dataset_id, "graph": graph},
        ) as r:
            body = await r.json()
            assert r.status in (200, 201), body
            return str(body["pipeline"]["pipeline_id"])

    async def submit(self, dataset_id: str, graph: dict[str, Any], node_id: str = "train") -> Frame:
        """``POST /training-jobs``; returns the queued job."""
        job: Frame = await self._json(
            "POST", "/training-jobs", 202, json={"dataset_source_id": dataset_id, "node_id": node_id, "graph": graph}
        )
        return job

    async def job(self, job_id: str) -> Frame:
        job: Frame = await self._json("GET", f"/training-jobs/{job_id}", 200)
        return job

    async def artifact(self, job_id: str) -> tuple[bytes, str]:
        """The job's model as downloaded, and the sha256 the service recorded for it."""
        async with self.session.get(f"{self.base_url}{API}/training-jobs/{job_id}/artifact",
                                    headers=self._headers) as r:
            assert r.status == 200, await r.text()
            return await r.read(), r.headers["X-Artifact-SHA256"]

    async def events(self, job_id: str) -> list[Frame]:
        """The job's persisted events (the audit trail)."""
        body = await self._json("GET", f"/training-jobs/{job_id}/events", 200)
        events: list[Frame] = body["events"]
        return events

    async def versions(self, pipeline_id: str, node_id: str = "train") -> list[Frame]:
        body = await self._json("GET", f"/pipelines/{pipeline_id}/nodes/{node_id}/versions?limit=100", 200)
        items: list[Frame] = body["items"] if isinstance(body, dict) else body
        return items

    async def ready(self) -> tuple[int, Frame]:
        async with self.session.get(f"{self.base_url}{API}/ready") as r:
            return r.status, await r.json()

    async def wait_ready(self, ready: bool, within_s: float = 45.0) -> Frame:
        """Poll ``/ready`` until it answers 200 (``ready``) or anything else (not ``ready``); returns its body."""
        deadline = time.monotonic() + within_s
        while True:
            status, body = await self.ready()
            if (status == 200) == ready:
                return body
            assert time.monotonic() < deadline, f"/ready still {status}: {body}"
            await asyncio.sleep(0.1)

    async def wait_job(self, job_id: str, statuses: frozenset[str] = TERMINAL, within_s: float = 90.0) -> Frame:
        """Poll the job until its status is one of ``statuses``."""
        deadline = time.monotonic() + within_s
        while True:
            job = await self.job(job_id)
            if job["status"] in statuses:
                return job
            assert time.monotonic() < deadline, f"job {job_id} still {job['status']} after {within_s:g} s"
            await asyncio.sleep(0.1)


class LiveSocket:
    """An authenticated ``/ml-workflow/ws`` connection that records every frame it receives."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, user_id: str) -> None:
        self.ws = ws
        self.user_id = user_id
        self.frames: list[Frame] = []
        self.close_code: int | None = None
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read(), name="live-socket-reader")

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, base_url: str, token: str) -> LiveSocket:
        """Connect, authenticate with an ``auth`` frame, and wait for ``welcome``."""
        ws = await session.ws_connect(f"{base_url}{WS_PATH}")
        await ws.send_str(json.dumps({"op": "auth", "token": token}))
        msg = await ws.receive(timeout=15)
        assert msg.type is aiohttp.WSMsgType.TEXT, f"no welcome: {msg.type} {msg.data!r} {msg.extra!r}"
        welcome = json.loads(msg.data)
        assert welcome["type"] == "welcome", welcome
        return cls(ws, str(welcome["user_id"]))

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                async with self._changed:
                    self.frames.append(json.loads(msg.data))
                    self._changed.notify_all()
        async with self._changed:
            self.close_code = self.ws.close_code
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[Frame], bool], within_s: float = 60.0, start: int = 0) -> Frame:
        """The first frame from index ``start`` on that matches ``predicate``, waiting for it if need be."""
        async with asyncio.timeout(within_s), self._changed:
            while True:
                for frame in self.frames[start:]:
                    if predicate(frame):
                        return frame
                assert not self._reader.done(), f"socket closed ({self.close_code}) before the frame came"
                await self._changed.wait()

    async def subscribe(
        self, topics: list[dict[str, str]], since: dict[str, int] | None = None, ref: str = "sub"
    ) -> Frame:
        """Subscribe; returns the snapshot that answers it."""
        start = len(self.frames)
        frame: Frame = {"op": "subscribe", "topics": topics, "ref": ref}
        if since is not None:
            frame["since"] = since
        await self.ws.send_str(json.dumps(frame))
        return await self.wait_for(lambda f: f["type"] == "snapshot" and f.get("ref") == ref, 30.0, start)

    async def sync(self, ref: str) -> None:
        """Ping and wait for the pong: everything queued for this socket before has arrived."""
        start = len(self.frames)
        await self.ws.send_str(json.dumps({"op": "ping", "ref": ref}))
        await self.wait_for(lambda f: f["type"] == "pong" and f.get("ref") == ref, 30.0, start)

    async def wait_status(self, job_id: str, statuses: frozenset[str] = TERMINAL, within_s: float = 90.0) -> Frame:
        """Wait for a ``job.status`` event of ``job_id`` entering one of ``statuses``."""
        return await self.wait_for(
            lambda f: f["type"] == "job.status" and f["job_id"] == job_id and f["status"] in statuses, within_s
        )

    def events(self, job_id: str | None = None) -> list[Frame]:
        """Job events received (persisted and progress), in order."""
        return [f for f in self.frames if f["type"].startswith("job.") and job_id in (None, f.get("job_id"))]

    def persisted(self, job_id: str) -> list[Frame]:
        """Persisted events of ``job_id`` received, in order."""
        return [f for f in self.events(job_id) if "seq" in f]

    def seqs(self, job_id: str) -> list[int]:
        return [int(f["seq"]) for f in self.persisted(job_id)]

    def job_ids(self) -> set[str]:
        """Every job id this socket heard of, in events or snapshots."""
        ids = {str(f["job_id"]) for f in self.events()}
        for frame in self.frames:
            if frame["type"] == "snapshot":
                ids.update(str(job["id"]) for job in frame["jobs"])
        return ids

    def view_of(self, job_id: str) -> tuple[str | None, int]:
        """The job's status and last seq as this client knows them: the newest snapshot row, then later events."""
        status: str | None = None
        seq = 0
        for frame in self.frames:
            if frame["type"] == "snapshot":
                for job in frame["jobs"]:
                    if job["id"] == job_id:
                        status, seq = job["status"], int(job["last_seq"])
            elif frame["type"] == "job.status" and frame["job_id"] == job_id and int(frame["seq"]) > seq:
                status, seq = frame["status"], int(frame["seq"])
            elif frame["type"].startswith("job.") and frame.get("job_id") == job_id and "seq" in frame:
                seq = max(seq, int(frame["seq"]))
        return status, seq

    async def wait_converged(self, job_id: str, truth: tuple[str, int], within_s: float = 30.0) -> None:
        """Wait until :meth:`view_of` the job is ``truth`` (status, last seq)."""
        deadline = time.monotonic() + within_s
        while self.view_of(job_id) != truth:
            assert time.monotonic() < deadline, f"client stuck at {self.view_of(job_id)} for {job_id}, truth {truth}"
            await asyncio.sleep(0.05)

    async def wait_closed(self) -> int | None:
        """Wait until the connection has ended, whichever side ended it; returns the close code."""
        await asyncio.shield(self._reader)
        return self.close_code

    async def close(self) -> None:
        await self.ws.close()
        await self._reader


async def workers_of(database_url: str) -> dict[str, str]:
    """The ``worker`` (``host:pid``) that ran each job of the deployment's database, by job id."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, worker FROM training_jobs"))).all()
    finally:
        await engine.dispose()
    return {str(row.id): str(row.worker) for row in rows}
