"""Typed keys of the application and of requests."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from actors.jobs.context import JobContext, Sender
from server.authenticator import Authenticator
from server.offload import Offload
from store.blobs import Blobs
from store.engine import Engine, Sessions
from store.models import User
from store.reader import Reader
from store.row_reads import RowReads
from store.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
BLOBS = web.AppKey("blobs", Blobs)
"""Where datasets, artifacts, model cards and reports are stored (:mod:`store.blobs`)."""
ENGINE = web.AppKey("engine", Engine)
SESSIONS: web.AppKey[Sessions] = web.AppKey("sessions")
ROWS = web.AppKey("rows", RowReads)
"""Hot single-statement reads without the ORM (:mod:`store.row_reads`)."""
REDIS: web.AppKey[aioredis.Redis] = web.AppKey("redis")
JOBS = web.AppKey("jobs", JobContext)
"""The app's :class:`~actors.jobs.context.JobContext`, passed by the POST handlers to the job services."""
SENDER: web.AppKey[Sender | None] = web.AppKey("sender")
"""Sends a job's training message (``JobContext.sender``)."""
OFFLOAD = web.AppKey("offload", Offload)
"""The bounded executor for CPU-heavy steps (:mod:`server.offload`)."""
OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi")
PUBLIC_ROUTES: web.AppKey[frozenset[str]] = web.AppKey("public_routes")
AUTH = web.AppKey("auth", Authenticator)
"""Resolves bearer tokens (cache, read transaction, batched ``last_used_at``)."""

READER = web.RequestKey("reader", Reader)
USER = web.RequestKey("user", User)
