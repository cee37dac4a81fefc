"""Pure policy of the hub: its limits, close codes and the reconnect backoff.

Nothing here does I/O, so every number and rule is testable on its own.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator

DEFAULT_CHANNEL_PATTERN = "mlw:events:*"
"""Matches ``actors.jobs.publish.channel_for(user_id)`` of every user."""


class CloseCode:
    """Websocket close codes the hub uses; 4000-4999 are ours by RFC 6455."""

    GOING_AWAY = 1001
    """The server shuts down; reconnect (with ``since``) to another or the restarted one."""
    UNSUPPORTED_DATA = 1003
    """A binary frame: the protocol is JSON text only."""
    MESSAGE_TOO_BIG = 1009
    """A frame exceeded ``HubConfig.max_frame_bytes``."""
    INTERNAL_ERROR = 1011
    """An unexpected failure on the server side."""
    TRY_AGAIN_LATER = 1013
    """The database could not authenticate the socket in time; reconnect after a moment."""
    UNAUTHORIZED = 4401
    """No token, an unknown or a revoked one, or no ``auth`` frame in time."""
    TOO_SLOW = 4408
    """The client fell too far behind (its send queue filled up); reconnect with ``since``."""
    TOO_MANY_ERRORS = 4400
    """The client kept sending invalid frames."""
    TOO_MANY_SOCKETS = 4429
    """The user already has ``max_sockets_per_user`` open sockets (a socket that sent its token in
    an ``auth`` frame; with a header or query token the handshake itself is answered 429)."""


@dataclasses.dataclass(frozen=True)
class HubConfig:
    """Limits and timings of the hub.

    Attributes:
        channel_pattern: The Redis ``PSUBSCRIBE`` pattern; the part after its last ``*``
            prefix is the owning user id.
        queue_size: Frames waiting for one socket before it counts as too slow and is closed.
        max_frame_bytes: The largest client frame accepted.
        auth_timeout_s: How long a socket without a token may take to send its ``auth`` frame.
        heartbeat_s: Interval of websocket keepalive pings (a missing pong closes the socket).
        max_topics: Topics one socket may hold at once.
        snapshot_limit: Jobs listed per ``pipeline_id`` or ``user`` topic in a snapshot.
        replay_limit: Events read from the database per query when replaying or refilling.
        max_errors: Invalid frames tolerated from one socket before it is closed.
        backoff_initial_s: First delay before reconnecting to Redis.
        backoff_max_s: Longest delay between reconnect attempts.
        send_timeout_s: Longest a single frame may take to be written before the socket is dropped.
        reauth_interval_s: How often open sockets' tokens are checked again: a socket whose
            token was revoked or has expired since it connected is closed with 4401.
        max_sockets_per_user: Open sockets one user may hold in this process (0: no limit);
            ``hub.max_sockets_per_user``.
        snapshot_warnings_per_job: Warnings kept per job in a snapshot; the rest are counted
            (``warnings_total``, ``warnings_truncated``); ``hub.snapshot_warnings_per_job``.
        snapshot_cache_s: How long a user's snapshot of a topic is shared by the sockets that
            subscribe to it (any persisted event of the user drops it at once; 0: no sharing).
    """

    channel_pattern: str = DEFAULT_CHANNEL_PATTERN
    queue_size: int = 1000
    max_frame_bytes: int = 64 * 1024
    auth_timeout_s: float = 10.0
    heartbeat_s: float = 20.0
    max_topics: int = 100
    snapshot_limit: int = 200
    replay_limit: int = 1000
    max_errors: int = 20
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 5.0
    send_timeout_s: float = 30.0
    reauth_interval_s: float = 30.0
    max_sockets_per_user: int = 100
    snapshot_warnings_per_job: int = 20
    snapshot_cache_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.channel_pattern.endswith("*") or self.channel_pattern.count("*") != 1:
            raise ValueError("channel_pattern: must end with its only '*' (e.g. 'mlw:events:*')")
        for name in ("queue_size", "max_frame_bytes", "max_topics", "snapshot_limit", "replay_limit", "max_errors"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be 1 or greater")
        for name in ("auth_timeout_s", "heartbeat_s", "backoff_initial_s", "backoff_max_s", "send_timeout_s",
                     "reauth_interval_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be greater than 0")
        for name in ("max_sockets_per_user", "snapshot_warnings_per_job", "snapshot_cache_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be 0 or greater")
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s: must not be smaller than backoff_initial_s")

    @property
    def channel_prefix(self) -> str:
        """The channel name before the user id."""
        return self.channel_pattern[:-1]

    def owner_of(self, channel: str) -> str | None:
        """The user id a channel belongs to, or ``None`` when it does not match the pattern."""
        prefix = self.channel_prefix
        if not channel.startswith(prefix) or len(channel) == len(prefix):
            return None
        return channel[len(prefix) :]


def backoff_delays(
    initial_s: float, max_s: float, *, jitter: Callable[[], float] = random.random
) -> Iterator[float]:
    """Delays before successive reconnect attempts: doubling, capped, with up to 50 % jitter off.

    Jitter only ever shortens a delay, so ``max_s`` stays an upper bound, and many
    server processes that lost Redis together do not reconnect in lockstep.

    Args:
        initial_s: The first delay.
        max_s: The cap.
        jitter: Returns a number in ``[0, 1)``; pass ``lambda: 0.0`` for exact delays.
    """
    delay = initial_s
    while True:
        yield delay * (1.0 - 0.5 * jitter())
        delay = min(delay * 2.0, max_s)
