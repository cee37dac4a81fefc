"""The sweep of temporary objects: what writes that never finished left in the stores.

Every write to ``data.root`` or ``artifacts.root`` goes to a temporary name first
(:mod:`store.blobs`) and is committed only when complete; a process killed mid-write (a
worker writing a model, a web process storing an upload) leaves that temporary object
behind, on S3 possibly an unfinished multipart upload. The workers remove those older than
``data.temp_max_age_s``, so no bucket lifecycle rule or cron job is needed. Each worker's
duties thread tries every ``data.temp_sweep_interval_s``; a Redis key taken with
``SET NX PX`` for one interval (one key per pair of roots) lets one worker of the
deployment sweep per interval. Each machine's scratch folder (spooled uploads, downloads)
is swept by every worker on each interval and by the web process when it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from datetime import datetime, timedelta

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from store.blobs import Blobs
from store.blobs.scratch import sweep_scratch
from store.errors import BlobError
from store.settings import Settings
from store.types import utcnow

log = logging.getLogger(__name__)

SWEEP_KEY_PREFIX = "mlw:blobs:temp-sweep:"


def sweep_key(settings: Settings) -> str:
    """The once-per-interval key of the stores ``settings`` names.

    Keyed by the two roots, so deployments (or test runs) sharing one Redis with stores of
    their own each sweep theirs, and workers of one deployment share one key.
    """
    roots = f"{settings.data_root}\n{settings.artifacts_url}".encode()
    return SWEEP_KEY_PREFIX + hashlib.sha256(roots).hexdigest()[:16]


def sweep_temporary(blobs: Blobs, max_age_s: float, now: datetime | None = None) -> list[str]:
    """Remove the temporary objects of both roots last written more than ``max_age_s`` before ``now``.

    Returns:
        What was removed, by each store's name for it.
    """
    older_than = (now or utcnow()) - timedelta(seconds=max_age_s)
    stores = [blobs.data] if blobs.artifacts is blobs.data else [blobs.data, blobs.artifacts]
    removed: list[str] = []
    for store in stores:
        removed += store.sweep_temporary(older_than)
    return removed


async def sweep_once(settings: Settings, blobs: Blobs, client: aioredis.Redis, holder: str) -> list[str] | None:
    """Sweep if the sweep is on and no worker swept within the interval; None when skipped.

    Args:
        settings: ``data.temp_max_age_s`` and ``data.temp_sweep_interval_s``.
        blobs: The stores to sweep.
        client: The deployment's Redis (the once-per-interval key).
        holder: This worker's name, recorded in the key.
    """
    data = settings.data
    if data.temp_max_age_s <= 0:
        return None
    interval_ms = max(1, int(data.temp_sweep_interval_s * 1000))
    if not await client.set(sweep_key(settings), holder, nx=True, px=interval_ms):
        return None
    removed = await asyncio.to_thread(sweep_temporary, blobs, data.temp_max_age_s)
    if removed:
        log.warning("removed %d temporary object(s) left by unfinished writes: %s", len(removed), removed)
    return removed


async def sweep_local(settings: Settings, blobs: Blobs) -> list[str] | None:
    """Sweep this machine's scratch folder (``store.blobs.scratch``); None when the sweep is off.

    Not behind the deployment's key: each machine has its own folder.
    """
    if settings.data.temp_max_age_s <= 0:
        return None
    older_than = utcnow() - timedelta(seconds=settings.data.temp_max_age_s)
    removed = await asyncio.to_thread(sweep_scratch, blobs.scratch, older_than)
    if removed:
        log.warning("removed %d spooled upload(s) or download(s) of killed processes: %s", len(removed), removed)
    return removed


async def sweep_forever(
    settings: Settings, blobs: Blobs, client: aioredis.Redis, holder: str, stop: asyncio.Event
) -> None:
    """Sweep every ``data.temp_sweep_interval_s`` until ``stop`` is set; errors are logged, not fatal."""
    while not stop.is_set():
        try:
            await sweep_local(settings, blobs)
            await sweep_once(settings, blobs, client, holder)
        except (RedisError, OSError, BlobError) as exc:
            log.warning("temporary-object sweep skipped: %s", exc)
        except Exception:
            log.exception("temporary-object sweep failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.data.temp_sweep_interval_s)
