"""Running markers: Redis keys saying where (host, pid, thread) a message is running.

A marker is only worth its two Redis round trips for a message that runs long enough for
someone to look for it, so markers are written by a background thread once a message has
been running for ``delay_ms``; a message that ends sooner never touches Redis. The
bookkeeping (:class:`MarkerSchedule`) is pure and separate from the I/O (:class:`RunningMarkers`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any, NamedTuple

import redis

DEFAULT_MARKER_DELAY_MS = 100
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunningMessage:
    """Where a message is running: enough for another process to find and stop it."""

    message_id: str
    actor_name: str
    hostname: str
    pid: int
    thread_id: int
    started_at: int


class PendingMarker(NamedTuple):
    """A started message whose marker is not written yet (a tuple: one is made per message)."""

    message_id: str
    actor_name: str
    options: dict[str, Any]
    thread_id: int
    started_at: int
    due: float


class EndAction(Enum):
    """What ending a message requires of Redis."""

    NOTHING = "nothing"
    DELETE = "delete"
    DEFERRED = "deferred"


class MarkerSchedule:
    """Which markers are due, being written or written (no I/O, no locking, no clock).

    A marker moves pending -> writing -> written; ending a message removes it wherever it is.
    One that ends while being written is remembered so the writer deletes it afterwards.
    """

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.pending: dict[str, PendingMarker] = {}
        self.writing: set[str] = set()
        self.ended_while_writing: set[str] = set()
        self.written: set[str] = set()

    def begin(self, message_id: str, actor_name: str, options: dict[str, Any], thread_id: int, started_at: int,
              now: float) -> None:
        """Record a started message; its marker is due ``delay_s`` later."""
        self.pending[message_id] = PendingMarker(message_id, actor_name, options, thread_id, started_at,
                                                 now + self.delay_s)

    def next_due(self) -> float | None:
        """When the earliest pending marker is due (all share one delay, so it is the oldest)."""
        for marker in self.pending.values():
            return marker.due
        return None

    def take_due(self, now: float) -> list[PendingMarker]:
        """Move the markers due at ``now`` from pending to writing and return them."""
        due: list[PendingMarker] = []
        for marker in self.pending.values():
            if marker.due > now:
                break
            due.append(marker)
        for marker in due:
            del self.pending[marker.message_id]
            self.writing.add(marker.message_id)
        return due

    def finish_writing(self, message_ids: list[str]) -> list[str]:
        """Markers now written; returns those whose message ended meanwhile (to delete)."""
        stale: list[str] = []
        for message_id in message_ids:
            self.writing.discard(message_id)
            if message_id in self.ended_while_writing:
                self.ended_while_writing.discard(message_id)
                stale.append(message_id)
            else:
                self.written.add(message_id)
        return stale

    def end(self, message_id: str) -> EndAction:
        """Forget a finished message and say whether its key must be deleted now."""
        if self.pending.pop(message_id, None) is not None:
            return EndAction.NOTHING
        if message_id in self.writing:
            self.ended_while_writing.add(message_id)
            return EndAction.DEFERRED
        if message_id in self.written:
            self.written.discard(message_id)
            return EndAction.DELETE
        return EndAction.NOTHING


def _no_ttl(actor_name: str, options: dict[str, Any]) -> int | None:
    return None


class RunningMarkers:
    """Writes, deletes and reads running markers in Redis.

    Args:
        client: The Redis client.
        namespace: Keys are ``<namespace>:running:<message_id>``.
        delay_ms: How long a message runs before its marker is written; 0 writes it at once.
        ttl_of: ``(actor_name, options) -> milliseconds or None``: a marker's TTL, computed only
            when the marker is written.
        clock: A monotonic clock in seconds.
    """

    def __init__(self, client: redis.Redis, namespace: str, *, delay_ms: int = DEFAULT_MARKER_DELAY_MS,
                 ttl_of: Callable[[str, dict[str, Any]], int | None] = _no_ttl,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not isinstance(delay_ms, int) or delay_ms < 0:
            raise ValueError(f"running_marker_delay_ms must be an integer >= 0 or None, got {delay_ms!r}")
        self.client = client
        self.namespace = namespace
        self.delay_ms = delay_ms
        self.ttl_of = ttl_of
        self.clock = clock
        self.schedule = MarkerSchedule(delay_ms / 1000)
        self.condition = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._closed = False
        self._idle = False
        self._busy = False

    def key(self, message_id: str) -> str:
        """The Redis key of a message's marker."""
        return f"{self.namespace}:running:{message_id}"

    def begin(self, message_id: str, actor_name: str, options: dict[str, Any]) -> None:
        """A message (with these options) starts running in this thread."""
        thread_id, started_at = threading.get_ident(), int(time.time() * 1000)
        if self.delay_ms == 0:
            marker = PendingMarker(message_id, actor_name, options, thread_id, started_at, 0.0)
            self.client.set(self.key(message_id), self._info(marker), px=self.ttl_of(actor_name, options))
            return
        with self.condition:
            if self._pid != os.getpid():
                self._start_writer()
            self.schedule.begin(message_id, actor_name, options, thread_id, started_at, self.clock())
            self._busy = True
            # Only an idle writer needs waking: a busy one re-checks when its timed wait ends.
            if self._idle:
                self._idle = False
                self.condition.notify()

    def end(self, message_id: str) -> None:
        """A message stopped running; its marker (if written) is deleted before this returns."""
        if self.delay_ms != 0:
            with self.condition:
                action = self.schedule.end(message_id)
            if action is not EndAction.DELETE:
                return
        try:
            self.client.delete(self.key(message_id))
        except redis.RedisError:
            # The message itself has finished: a Redis outage must not turn its result into
            # a failure. The marker expires with its TTL.
            logger.warning("Could not delete the running marker of %s.", message_id, exc_info=True)

    def get(self, message_id: str) -> RunningMessage | None:
        """The marker of a message, or None when it is not running (or not for long)."""
        data: Any = self.client.get(self.key(message_id))
        if data is None:
            return None
        fields: dict[str, Any] = json.loads(data)
        return RunningMessage(**fields)

    def close(self) -> None:
        """Stop the writer thread (pending markers are dropped)."""
        with self.condition:
            self._closed = True
            self._pid = 0
            self.condition.notify()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    def _start_writer(self) -> None:
        # A forked child inherits the schedule but not the thread: start one per process.
        self._pid = os.getpid()
        self._closed = False
        self.schedule = MarkerSchedule(self.delay_ms / 1000)
        self._thread = threading.Thread(target=self._write_loop, name="shim-running-markers", daemon=True)
        self._thread.start()

    def _info(self, marker: PendingMarker) -> str:
        info = RunningMessage(marker.message_id, marker.actor_name, socket.gethostname(), os.getpid(),
                              marker.thread_id, marker.started_at)
        return json.dumps(asdict(info))

    def _write_loop(self) -> None:
        while True:
            with self.condition:
                due = self._wait_for_due()
                if due is None:
                    return
            try:
                with self.client.pipeline(transaction=False) as pipe:
                    for marker in due:
                        ttl_ms = self.ttl_of(marker.actor_name, marker.options)
                        pipe.set(self.key(marker.message_id), self._info(marker), px=ttl_ms)
                    pipe.execute()
            except Exception:
                # A marker is a diagnostic: a lost write must not stop the writer.
                logger.warning("Could not write %d running marker(s).", len(due), exc_info=True)
            with self.condition:
                stale = self.schedule.finish_writing([marker.message_id for marker in due])
            if stale:
                with contextlib.suppress(redis.RedisError):
                    self.client.delete(*(self.key(message_id) for message_id in stale))

    def _wait_for_due(self) -> list[PendingMarker] | None:
        """Wait (holding the condition) until markers are due; None once closed."""
        while not self._closed:
            next_due = self.schedule.next_due()
            now = self.clock()
            if next_due is None and self._busy:
                # Short messages end before the writer runs: stay awake for one more delay
                # rather than be woken (a thread switch) by every message of a burst.
                self._busy = False
                self.condition.wait(self.delay_ms / 1000)
            elif next_due is None:
                self._idle = True
                self.condition.wait()
                self._idle = False
            elif next_due > now:
                self.condition.wait(next_due - now)
            else:
                return self.schedule.take_due(now)
        return None
