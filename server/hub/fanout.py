"""The one Redis pub/sub subscription of a server process, fanned out to every socket.

``Fanout`` holds a single ``PSUBSCRIBE mlw:events:*`` and hands each event to every
registered listener without awaiting anything, so no listener can hold up another. An
event is decoded once and its bytes, exactly as published (UTF-8 JSON), are what every
socket sends: nothing is encoded per socket.
When Redis goes away it reconnects with backoff; every time the subscription is
(re-)established it asks each listener to resync from the database, because whatever was
published while it was down is lost for pub/sub but not for the database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from server.background import Background, keep_subscribed
from server.hub.policy import HubConfig, backoff_delays
from server.serialize import ADMIN_ONLY_EVENT_KEYS, event_for
from store.alias_events import ALIAS_CHANGED

log = logging.getLogger(__name__)

NODE_EVENT_TYPES = frozenset({ALIAS_CHANGED})
"""Events of a node rather than of a job: no ``job_id``, no ``seq``; routed by ``pipeline_id`` (and owner)."""


class RedisState(enum.StrEnum):
    """Where the hub's Redis subscription is."""

    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"
    STOPPED = "stopped"


@dataclasses.dataclass(frozen=True)
class FanoutStatus:
    """The subscription's state, for ``/ready`` and for operators.

    Attributes:
        state: Where the subscription is.
        since: When it entered that state (UTC).
        last_error: The last connection error, if any.
        connects: How many times the subscription was established.
        listeners: Sockets currently registered.
    """

    state: RedisState
    since: dt.datetime
    last_error: str | None
    connects: int
    listeners: int

    @property
    def ready(self) -> bool:
        """Whether live events flow."""
        return self.state is RedisState.UP

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "since": self.since.isoformat(),
            "last_error": self.last_error,
            "connects": self.connects,
            "listeners": self.listeners,
        }


class Published:
    """One event as received from Redis, shared by every socket: decoded once, encoded at most twice.

    Attributes:
        event: The decoded event.
        data: Its UTF-8 JSON exactly as published: what admins and, for most events, everyone get.
    """

    __slots__ = ("_redacted", "data", "event")

    def __init__(self, event: dict[str, Any], data: bytes) -> None:
        self.event = event
        self.data = data
        self._redacted: bytes | None = None

    def for_reader(self, *, is_admin: bool) -> bytes:
        """The bytes a reader gets: without admin-only fields for others, encoded on first need only."""
        if is_admin or ADMIN_ONLY_EVENT_KEYS.isdisjoint(self.event):
            return self.data
        if self._redacted is None:
            redacted = event_for(self.event, is_admin=False)
            self._redacted = json.dumps(redacted, separators=(",", ":"), sort_keys=True).encode()
        return self._redacted


class Listener(Protocol):
    """A consumer of fanned-out events: one per websocket. Both methods must not block."""

    def deliver(self, owner_id: str, published: Published) -> None:
        """Take one event published on ``owner_id``'s channel (the same object for every listener)."""

    def resync(self) -> None:
        """The subscription was (re-)established: events may have been missed meanwhile."""


def redis_connector(url: str, *, health_check_s: float = 10.0) -> Callable[[], aioredis.Redis]:
    """A factory of Redis clients for the subscription.

    redis-py's own retries are switched off: a silent reconnect inside the client would
    hide an outage from us, and with it the need to resync from the database.
    """

    def connect() -> aioredis.Redis:
        client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=max(1, int(health_check_s)),
            socket_connect_timeout=2.0,
            socket_keepalive=True,
        )
        return client

    return connect


class Fanout:
    """Runs the process-wide subscription and dispatches its messages.

    Args:
        connect: Returns a new Redis client; called once per (re)connection attempt.
        config: Channel pattern and backoff.
        delays: Reconnect delays (defaults to :func:`backoff_delays` of the config).
        decode: Parses one message's bytes (``json.loads``); called once per event.
    """

    def __init__(
        self,
        connect: Callable[[], aioredis.Redis],
        config: HubConfig,
        *,
        delays: Callable[[], Iterator[float]] | None = None,
        decode: Callable[[bytes], Any] = json.loads,
    ) -> None:
        self._connect = connect
        self._decode = decode
        self._config = config
        self._delays = delays or (lambda: backoff_delays(config.backoff_initial_s, config.backoff_max_s))
        self._listeners: set[Listener] = set()
        self._task = Background("hub-fanout", self._run)
        self._state = RedisState.STOPPED
        self._since = dt.datetime.now(dt.UTC)
        self._last_error: str | None = None
        self._connects = 0
        self._changed = asyncio.Event()

    @property
    def status(self) -> FanoutStatus:
        return FanoutStatus(self._state, self._since, self._last_error, self._connects, len(self._listeners))

    def add(self, listener: Listener) -> None:
        self._listeners.add(listener)

    def discard(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    def start(self) -> None:
        """Start the subscription task; returns at once (Redis may still be unreachable)."""
        if self._state is RedisState.STOPPED:
            self._set_state(RedisState.CONNECTING)
            self._task.start()

    async def stop(self) -> None:
        """Cancel the subscription task and close its connection."""
        await self._task.stop()
        self._set_state(RedisState.STOPPED)

    async def wait_for(self, state: RedisState, *, connects_at_least: int = 0) -> None:
        """Wait until the subscription is in ``state`` (and was established that many times)."""
        while not (self._state is state and self._connects >= connects_at_least):
            self._changed.clear()
            await self._changed.wait()

    def _set_state(self, state: RedisState, error: str | None = None) -> None:
        if state is not self._state:
            self._state = state
            self._since = dt.datetime.now(dt.UTC)
        if error is not None:
            self._last_error = error
        self._changed.set()

    async def _run(self) -> None:
        await keep_subscribed(
            self._connect,
            self._config.channel_pattern,
            pattern=True,
            delays=self._delays,
            up=self._up,
            message=self._dispatch,
            down=self._down,
        )

    def _up(self) -> None:
        self._connects += 1
        self._set_state(RedisState.UP)
        for listener in list(self._listeners):
            listener.resync()

    def _down(self, exc: BaseException) -> None:
        log.warning("redis subscription lost: %s", exc)
        self._set_state(RedisState.DOWN, f"{type(exc).__name__}: {exc}")

    def _dispatch(self, message: dict[str, Any]) -> None:
        if not self._listeners:  # no socket open: every event the process publishes itself comes back here
            return
        channel = _text(message.get("channel"), errors="replace")
        owner = self._config.owner_of(channel)
        if owner is None:
            return
        raw = message.get("data") or b""
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        try:
            event = self._decode(data)
        except ValueError:
            log.warning("ignoring a message on %s that is not JSON", channel)
            return
        if not _is_event(event):
            log.warning("ignoring a message on %s that is neither a job event nor a node event", channel)
            return
        published = Published(event, data)
        for listener in list(self._listeners):
            try:
                listener.deliver(owner, published)
            except Exception:  # one broken socket must not stop the stream for the others
                log.exception("listener failed on an event of job %s", event.get("job_id"))


def _is_event(event: Any) -> bool:
    """A job event (it names its job), or an event of a node with no job (``alias.changed``: its pipeline)."""
    if not isinstance(event, dict):
        return False
    if isinstance(event.get("job_id"), str):
        return True
    return event.get("type") in NODE_EVENT_TYPES and isinstance(event.get("pipeline_id"), str)


def _text(value: Any, *, errors: str = "strict") -> str:
    return value.decode(errors=errors) if isinstance(value, bytes) else str(value)
