"""Token revocations announced to every web process through Redis.

Whoever revokes tokens in the database (``mlw tokens revoke``, the admin API) publishes,
after the commit, one JSON message on :data:`CHANNEL`: ``{"token_sha256": "<hex>"}`` for
one token or ``{"user_id": ...}`` for all of a user's tokens (:func:`publish_revocation`).
Each web process subscribes (:class:`RevocationListener`) and evicts the matching entries
of its token cache at once, and the hub closes the matching sockets. When the
subscription is (re)established the listener drops the whole cache, since messages
published while it was down are lost; in every case a revoked token stops working
within ``server.auth_cache_ttl_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CHANNEL = "mlw:auth:revoked"
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


async def publish_revocation(
    client: aioredis.Redis, *, token_sha256: str | None = None, user_id: str | int | None = None
) -> int:
    """Tell every web process that a token (or all of a user's tokens) was revoked.

    Call it after the revoking transaction committed. Returns how many processes heard it.

    Raises:
        ValueError: neither or both of ``token_sha256`` and ``user_id``, or a malformed hash.
        redis.exceptions.RedisError: Redis is unreachable; the revoked tokens then stop
            working within ``server.auth_cache_ttl_s`` anyway.
    """
    message = revocation(token_sha256=token_sha256, user_id=user_id)
    return int(await client.publish(CHANNEL, message.to_json()))


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
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="auth-revocations")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        delays = self._delays()
        while True:
            client = self._connect()
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                async with asyncio.timeout(10.0):
                    while (reply := await pubsub.get_message(timeout=1.0)) is None or reply["type"] != "subscribe":
                        pass
                delays = self._delays()
                self._on_resubscribed()
                self.subscribed.set()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        self._dispatch(message)
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("revocation subscription lost: %s", exc)
            finally:
                self.subscribed.clear()
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(RedisError, OSError):
                    await client.aclose()
            await asyncio.sleep(next(delays))

    def _dispatch(self, message: dict[str, Any]) -> None:
        found = parse_revocation(message.get("data") or b"")
        if found is None:
            log.warning("ignoring a message on %s that is not a revocation", CHANNEL)
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
