"""Telling every web process that tokens were revoked: Redis channel ``mlw:auth:revoked``.

Messages are JSON: ``{"token_sha256": "<hex>"}`` for one token, ``{"user_id": "<id>"}`` for
all of a user's. Web processes drop the named tokens from their authentication caches at
once; open websockets are also checked again every ``reauth_interval_s`` (the hub), so a
lost message delays a revocation by that interval at most.

``mlw serve`` writes the URL of its embedded Redis to :func:`embedded_url_file`, so the CLI
of the same data directory can publish there too.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError

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
