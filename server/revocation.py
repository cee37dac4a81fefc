"""Telling every web process that tokens were revoked: Redis channel ``mlw:auth:revoked``.

Messages are JSON: ``{"token_sha256": "<hex>"}`` for one token, ``{"user_id": "<id>"}`` for
all of a user's, published after the revoking commit (:func:`publish_revocation`,
:func:`publish_revocation_sync`). Each web process subscribes (:class:`RevocationListener`):
it drops the named tokens from its authentication cache and closes their websockets at
once. When the subscription is (re)established the whole cache is dropped, since messages
published meanwhile are lost; so a revoked token stops working within
``server.auth_cache_ttl_s`` even if its message is lost (open websockets: within the hub's
``reauth_interval_s``).

``mlw serve`` writes the URL of its embedded Redis to :func:`embedded_url_file`, so the CLI
of the same data directory can publish there too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.background import Background, keep_subscribed
from store.settings import Settings

log = logging.getLogger(__name__)

REVOCATION_CHANNEL = "mlw:auth:revoked"


def revocation_message(*, token_sha256: str | None = None, user_id: str | None = None) -> str:
    """The JSON message for one token (by hash) or for all of one user's tokens."""
    if (token_sha256 is None) == (user_id is None):
        raise ValueError("name exactly one of token_sha256 and user_id")
    body = {"token_sha256": token_sha256} if token_sha256 is not None else {"user_id": user_id}
    return json.dumps(body, separators=(",", ":"))


async def publish_revocation(
    client: aioredis.Redis, *, token_sha256: str | None = None, user_id: str | None = None
) -> bool:
    """Publish a revocation from a web process; returns whether Redis took it (never raises)."""
    message = revocation_message(token_sha256=token_sha256, user_id=user_id)
    try:
        await client.publish(REVOCATION_CHANNEL, message)
        return True
    except (RedisError, OSError) as exc:
        log.warning("revocation not published (%s); open sockets are checked again within the reauth interval", exc)
        return False


def embedded_url_file(settings: Settings) -> Path:
    """Where ``mlw serve`` records the URL of its embedded Redis."""
    return Path(settings.data_dir) / "redis" / "url"


def record_embedded_url(settings: Settings, url: str) -> None:
    """Write the embedded Redis URL for the CLI (readable by the owner only)."""
    path = embedded_url_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(url)


def redis_url_for_cli(settings: Settings) -> str | None:
    """``redis.url``, or the URL a running ``mlw serve`` of this data directory recorded."""
    if settings.redis.url:
        return settings.redis.url
    try:
        return embedded_url_file(settings).read_text().strip() or None
    except OSError:
        return None


def publish_revocation_sync(settings: Settings, *, token_sha256: str | None = None, user_id: str | None = None) -> bool:
    """Publish a revocation from the CLI; returns whether a Redis took it (never raises)."""
    url = redis_url_for_cli(settings)
    if url is None:
        return False
    message = revocation_message(token_sha256=token_sha256, user_id=user_id)
    client = redis.Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=2.0)
    try:
        client.publish(REVOCATION_CHANNEL, message)
        return True
    except (RedisError, OSError):
        return False
    finally:
        client.close()


_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclasses.dataclass(frozen=True)
class Revocation:
    """One revocation message: exactly one of the two fields is set."""

    token_sha256: str | None = None
    user_id: str | None = None

    def to_json(self) -> str:
        body = {"token_sha256": self.token_sha256} if self.token_sha256 else {"user_id": self.user_id}
        return json.dumps(body, separators=(",", ":"))


def revocation(*, token_sha256: str | None = None, user_id: str | int | None = None) -> Revocation:
    """A checked :class:`Revocation`.

    Raises:
        ValueError: neither or both given, or the hash is not 64 lowercase hex digits.
    """
    if (token_sha256 is None) == (user_id is None):
        raise ValueError("give exactly one of token_sha256 and user_id")
    if token_sha256 is not None:
        if not isinstance(token_sha256, str) or not _HEX64.fullmatch(token_sha256):
            raise ValueError("token_sha256: must be 64 lowercase hex digits (store.users.hash_token)")
        return Revocation(token_sha256=token_sha256)
    if isinstance(user_id, bool) or not isinstance(user_id, str | int) or str(user_id) == "":
        raise ValueError("user_id: must be a non-empty string or an integer")
    return Revocation(user_id=str(user_id))


def parse_revocation(data: bytes | str) -> Revocation | None:
    """The revocation a message carries, or ``None`` when it is not one (logged by the caller)."""
    try:
        body = json.loads(data)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    try:
        return revocation(token_sha256=body.get("token_sha256"), user_id=body.get("user_id"))
    except ValueError:
        return None


OnRevocation = Callable[[Revocation], None]


class RevocationListener:
    """Subscribes to :data:`CHANNEL` and calls ``on_revocation`` for each message.

    Args:
        connect: Returns a new Redis client (one per connection attempt).
        on_revocation: Called for every valid message; must not block.
        on_resubscribed: Called whenever the subscription was (re-)established, before
            any message: messages may have been missed meanwhile.
        delays: Reconnect delays.
    """

    def __init__(
        self,
        connect: Callable[[], aioredis.Redis],
        on_revocation: OnRevocation,
        on_resubscribed: Callable[[], None],
        *,
        delays: Callable[[], Iterator[float]] | None = None,
    ) -> None:
        self._connect = connect
        self._on_revocation = on_revocation
        self._on_resubscribed = on_resubscribed
        self._delays = delays or _default_delays
        self._task = Background("auth-revocations", self._run)
        self.subscribed = asyncio.Event()

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        self.subscribed.clear()

    async def _run(self) -> None:
        await keep_subscribed(
            self._connect,
            REVOCATION_CHANNEL,
            pattern=False,
            delays=self._delays,
            up=self._up,
            message=self._dispatch,
            down=self._down,
        )

    def _up(self) -> None:
        self._on_resubscribed()
        self.subscribed.set()

    def _down(self, exc: BaseException) -> None:
        log.warning("revocation subscription lost: %s", exc)
        self.subscribed.clear()

    def _dispatch(self, message: dict[str, Any]) -> None:
        found = parse_revocation(message.get("data") or b"")
        if found is None:
            log.warning("ignoring a message on %s that is not a revocation", REVOCATION_CHANNEL)
            return
        try:
            self._on_revocation(found)
        except Exception:
            log.exception("handling a revocation failed")


def _default_delays() -> Iterator[float]:
    delay = 0.1
    while True:
        yield delay
        delay = min(delay * 2, 5.0)
