"""One websocket's side of the hub: its topics, its bounded queue, its sender task.

The fan-out puts events into the queue without waiting; a dedicated sender task takes
them out, in order, and writes them to the socket. A socket that stops reading blocks only
its own sender; once its queue is full it is closed with :attr:`CloseCode.TOO_SLOW`.

Per job the sender remembers the last ``seq`` the client has. An event at or below it is
a duplicate and skipped; an event beyond the next one reveals a gap (pub/sub dropped a
message, or Redis was down) and the missing events are read from the database first.
So each client sees each job's persisted events in seq order, without gaps or duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from server.hub.fanout import Published
from server.hub.policy import CloseCode, HubConfig
from server.hub.protocol import (
    Ref,
    Subscribe,
    Topic,
    Unsubscribe,
    error_frame,
    pong_frame,
    snapshot_frame,
    unsubscribed_frame,
)
from server.hub.source import HubSource, Principal, owner_of_row

log = logging.getLogger(__name__)

SendFrame = Callable[[bytes], Awaitable[None]]
"""Writes one text frame, already UTF-8 encoded, to the socket."""
Close = Callable[[int, str], None]


@dataclasses.dataclass(frozen=True)
class _Event:
    owner_id: str
    published: Published

    @property
    def event(self) -> dict[str, Any]:
        return self.published.event


@dataclasses.dataclass(frozen=True)
class _Frame:
    frame: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class _Resync:
    pass


@dataclasses.dataclass(frozen=True)
class _Flush:
    sent: asyncio.Event


_Item = _Event | _Frame | Subscribe | Unsubscribe | _Resync | _Flush


class HubClient:
    """The hub's state for one socket; a :class:`server.hub.fanout.Listener`.

    Args:
        principal: Who the socket belongs to.
        source: Database reads (snapshots, replays, gap refills).
        config: Queue size and query limits.
        send: Writes one text frame (UTF-8 bytes) to the socket (may block while the peer is slow).
        close: Starts closing the socket with a code and reason; must not block.
    """

    def __init__(
        self, principal: Principal, source: HubSource, config: HubConfig, send: SendFrame, close: Close
    ) -> None:
        self.principal = principal
        self._source = source
        self._config = config
        self._send = send
        self._close = close
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(config.queue_size)
        self._topics: list[Topic] = []
        self._jobs: set[str] = set()
        self._pipelines: set[str] = set()
        self._me = False
        self._last_seq: dict[str, int] = {}
        self.closed_with: int | None = None

    @property
    def topics(self) -> tuple[Topic, ...]:
        return tuple(self._topics)

    def last_seq(self, job_id: str) -> int | None:
        """The newest seq of ``job_id`` sent to this client, if it has seen the job."""
        return self._last_seq.get(job_id)

    # --- called by the fan-out and the socket reader; never block ---------------------

    def deliver(self, owner_id: str, published: Published) -> None:
        if self.closed_with is None and self._wants(owner_id, published.event):
            self._put(_Event(owner_id, published))

    def resync(self) -> None:
        if self.closed_with is None and self._topics:
            self._put(_Resync())

    def reply(self, frame: dict[str, Any]) -> None:
        """Queue a frame (a pong, an error) behind everything already queued."""
        self._put(_Frame(frame))

    def pong(self, ref: Ref) -> None:
        self.reply(pong_frame(ref))

    def subscribe(self, request: Subscribe) -> None:
        """Start listening to ``request.topics`` now; the snapshot and replay follow in the queue.

        Listening starts before the snapshot is read, so nothing committed in between is
        missed; what the snapshot already covers is dropped later as a duplicate.
        """
        added = [t for t in request.topics if t not in self._topics]
        if len(self._topics) + len(added) > self._config.max_topics:
            limit = f"a socket may hold at most {self._config.max_topics} topics"
            self.reply(error_frame("too_many_topics", "topics", limit, request.ref))
            return
        self._topics.extend(added)
        self._index()
        self._put(request)

    def unsubscribe(self, request: Unsubscribe) -> None:
        self._topics = [t for t in self._topics if t not in request.topics]
        self._index()
        self._put(request)

    def _index(self) -> None:
        self._jobs = {t.value for t in self._topics if t.kind == "job_id"}
        self._pipelines = {t.value for t in self._topics if t.kind == "pipeline_id"}
        self._me = any(t.kind == "user" for t in self._topics)

    def _wants(self, owner_id: str, event: dict[str, Any]) -> bool:
        if not self.principal.may_read(owner_id):
            return False
        return (
            event.get("job_id") in self._jobs
            or event.get("pipeline_id") in self._pipelines
            or (self._me and owner_id == self.principal.user_id)
        )

    def _put(self, item: _Item) -> None:
        if self.closed_with is not None:
            return
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.close(CloseCode.TOO_SLOW, "too slow: send queue full; reconnect with since")

    async def flush(self, timeout_s: float) -> None:
        """Wait (at most ``timeout_s``) until everything queued so far has been written.

        Closing for the peer's own errors comes after the error frames that explain it: a
        close sent at once would overtake them, since the sender task writes them later.
        """
        sent = asyncio.Event()
        self._put(_Flush(sent))
        if self.closed_with is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sent.wait(), timeout_s)

    def close(self, code: int, reason: str) -> None:
        """Stop queueing and start closing the socket (once)."""
        if self.closed_with is None:
            self.closed_with = code
            self._close(code, reason)

    # --- the sender task ----------------------------------------------------------------

    async def run(self) -> None:
        """Send queued items until cancelled; run it as the socket's sender task."""
        while True:
            item = await self._queue.get()
            if isinstance(item, _Event):
                await self._on_event(item)
            elif isinstance(item, Subscribe):
                await self._on_subscribe(item)
            elif isinstance(item, Unsubscribe):
                await self._send_json(unsubscribed_frame(item.topics, item.ref))
            elif isinstance(item, _Resync):
                await self._on_resync()
            elif isinstance(item, _Flush):
                item.sent.set()
            else:
                await self._send_json(item.frame)

    async def _send_json(self, frame: dict[str, Any]) -> None:
        await self._send(json.dumps(frame, separators=(",", ":")).encode())

    def _bytes_of(self, item: _Event) -> bytes:
        """The event as published, or without the fields this user may not see (encoded once for all)."""
        return item.published.for_reader(is_admin=self.principal.is_admin)

    async def _on_event(self, item: _Event) -> None:
        event = item.event
        if not self._wants(item.owner_id, event):
            return  # unsubscribed while it waited in the queue
        seq = event.get("seq")
        if not isinstance(seq, int):
            await self._send(self._bytes_of(item))  # ephemeral progress: no order to keep
            return
        job_id = str(event["job_id"])
        known = self._last_seq.get(job_id, 0)
        if seq <= known:
            return
        if seq > known + 1:
            await self._replay(job_id, known, until=seq - 1)
            if seq <= self._last_seq.get(job_id, 0):
                return
            if seq > self._last_seq.get(job_id, 0) + 1:
                log.warning("job %s: events before seq %s are not in the database yet", job_id, seq)
        self._last_seq[job_id] = seq
        await self._send(self._bytes_of(item))

    async def _replay(self, job_id: str, after: int, *, until: int | None = None) -> None:
        """Send the persisted events of ``job_id`` after ``after`` (up to ``until``) from the database."""
        while until is None or after < until:
            events = await self._source.events_after(self.principal, job_id, after, self._config.replay_limit)
            for event in events:
                seq = int(event["seq"])
                if seq <= after or (until is not None and seq > until):
                    continue
                after = seq
                self._last_seq[job_id] = seq
                await self._send_json(event)
            if len(events) < self._config.replay_limit:
                return

    async def _jobs_of(self, topics: Iterable[Topic]) -> tuple[list[dict[str, Any]], list[str]]:
        rows: dict[str, dict[str, Any]] = {}
        missing: list[str] = []
        for topic in topics:
            found = await self._source.jobs(self.principal, topic, self._config.snapshot_limit)
            if topic.kind == "job_id" and not found:
                missing.append(topic.value)
            for row in found:
                if self.principal.may_read(owner_of_row(row)):
                    rows.setdefault(str(row["id"]), row)
        return list(rows.values()), missing

    async def _on_subscribe(self, request: Subscribe) -> None:
        live = [t for t in request.topics if t in self._topics]
        rows, missing = await self._jobs_of(live)
        replays: list[tuple[str, int]] = []
        for row in rows:
            job_id, current = str(row["id"]), int(row["last_seq"])
            if job_id in self._last_seq:
                continue  # already streaming this job in order on this socket
            start = min(request.since.get(job_id, current), current)
            self._last_seq[job_id] = start
            if start < current:
                replays.append((job_id, start))
        await self._send_json(snapshot_frame(request.topics, rows, missing, request.ref))
        for job_id, start in replays:
            await self._replay(job_id, start)

    async def _on_resync(self) -> None:
        rows, _ = await self._jobs_of(self._topics)
        for row in rows:
            job_id = str(row["id"])
            known = self._last_seq.get(job_id, 0)
            if int(row["last_seq"]) > known:
                await self._replay(job_id, known)
