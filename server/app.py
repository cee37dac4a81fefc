"""The aiohttp application factory (DESIGN section 7).

One ``cleanup_ctx`` per resource, in dependency order: the database engine, the Redis
client, the job-service context (publisher, cancel signals, message sender), then the
websocket hub (``server.hub.hub_ctx``, passed in ``extra_contexts``). Handlers reach the
resources through the typed keys of :mod:`server.keys`.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Sequence

import redis.asyncio as aioredis
from aiohttp import web

from actors.jobs.cancel_signal import RedisCancelSignals
from actors.jobs.context import JobContext, Sender
from actors.jobs.group_commit import SubmissionBatches
from actors.jobs.publish import RedisPublisher
from actors.jobs.temp_sweep import sweep_local
from server.auth import auth_ctx, auth_middleware
from server.keys import BLOBS, ENGINE, JOBS, OFFLOAD, OPENAPI, PUBLIC_ROUTES, REDIS, ROWS, SENDER, SESSIONS, SETTINGS
from server.middleware import error_middleware
from server.offload import Offload
from server.openapi import build_openapi, set_property
from server.routing import Operation, add_operations, public_route_names
from server.security_headers import install_security_headers
from server.views import (
    admin,
    aliases,
    datasets,
    deletion,
    insights,
    jobs,
    me,
    meta,
    pipeline_browser,
    pipelines,
    predictions,
    reports,
    versions,
    workers,
)
from store.blobs import open_blobs
from store.engine import create_engine, create_session_factory, pool_options
from store.errors import ConfigError
from store.row_reads import RowReads
from store.settings import Settings

MIB = 1024 * 1024
CleanupCtx = Callable[[web.Application], AsyncIterator[None]]

OPERATIONS: list[Operation] = [
    *jobs.OPERATIONS,
    *insights.OPERATIONS,
    *reports.OPERATIONS,
    *pipelines.OPERATIONS,
    *pipeline_browser.OPERATIONS,
    *versions.OPERATIONS,
    *aliases.OPERATIONS,
    *predictions.OPERATIONS,
    *datasets.OPERATIONS,
    *meta.OPERATIONS,
    *me.OPERATIONS,
    *admin.OPERATIONS,
    *deletion.OPERATIONS,
    *workers.OPERATIONS,
]
"""Every REST endpoint; routed, authenticated and documented from this one list."""


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    """The SQLAlchemy engine, session factory and hot-read pool (``database.url``)."""
    settings = app[SETTINGS]
    engine = create_engine(settings.database_url, echo=settings.database.echo, **pool_options(settings))
    app[ENGINE] = engine
    app[SESSIONS] = create_session_factory(engine)
    app[ROWS] = RowReads(engine)
    try:
        yield
    finally:
        app[ROWS].close()
        await engine.dispose()


async def scratch_ctx(app: web.Application) -> AsyncIterator[None]:
    """At start, what a killed web process left in this machine's scratch folder goes (spooled uploads)."""
    await sweep_local(app[SETTINGS], app[BLOBS])
    yield


async def service_ctx(app: web.Application) -> AsyncIterator[None]:
    """The :class:`~actors.jobs.context.JobContext` of ``actors.jobs.service`` (submit, cancel)."""
    client = app[REDIS]
    app[JOBS] = JobContext(
        settings=app[SETTINGS],
        sessions=app[SESSIONS],
        publisher=RedisPublisher(client),
        cancel_signals=RedisCancelSignals(client),
        sender=app[SENDER],
        offload=app[OFFLOAD].run,
        blobs=app[BLOBS],
        # One SQLite writer at a time: submissions arriving together share a transaction.
        submission_batches=SubmissionBatches() if app[ENGINE].dialect.name == "sqlite" else None,
    )
    yield


GIL_SWITCH_INTERVAL_S = 0.001


async def offload_ctx(app: web.Application) -> AsyncIterator[None]:
    """The bounded executor for CPU-heavy steps (``server.cpu_*``)."""
    server = app[SETTINGS].server
    # The executor's threads share the GIL with the event loop: with the default 5 ms switch
    # interval the loop waits up to 5 ms for the GIL after every I/O wake-up while a CPU step
    # runs (another user's request then takes hundreds of ms); 1 ms keeps those waits short.
    sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
    app[OFFLOAD] = Offload(server.cpu_threads, server.cpu_tasks_per_user, server.cpu_queue_per_user)
    try:
        yield
    finally:
        app[OFFLOAD].shutdown()


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    """The Redis client (``redis.url``); ``mlw serve`` fills the URL in for the embedded Redis."""
    url = app[SETTINGS].redis.url
    if not url:
        raise ConfigError("redis.url", "is empty; start the embedded Redis first and pass its URL")
    client = aioredis.Redis.from_url(url)
    app[REDIS] = client
    try:
        yield
    finally:
        await client.aclose()


def create_app(
    settings: Settings, *, sender: Sender | None = None, extra_contexts: Sequence[CleanupCtx] = ()
) -> web.Application:
    """Build the application.

    Args:
        settings: The loaded configuration (``redis.url`` must be set: ``mlw serve`` starts
            the embedded Redis first and passes its URL).
        sender: Sends a job's training message (``actors.jobs.sending.make_sender``, built
            once by the process on its broker); None: this app sends none, and a submission
            that would send one fails.
        extra_contexts: More ``cleanup_ctx`` generators, run after the built-in ones (in
            this order) and torn down before them; the websocket hub goes here.
    """
    app = web.Application(
        middlewares=[error_middleware, auth_middleware],
        client_max_size=settings.server.max_body_mb * MIB,
    )
    install_security_headers(app)
    app[SETTINGS] = settings
    app[BLOBS] = open_blobs(settings)
    app[SENDER] = sender
    app.cleanup_ctx.append(scratch_ctx)
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(offload_ctx)
    app.cleanup_ctx.append(redis_ctx)
    app.cleanup_ctx.append(auth_ctx)
    app.cleanup_ctx.append(service_ctx)
    # The websocket hub (server.hub.hub_ctx) registers its cleanup_ctx here, after Redis.
    app.cleanup_ctx.extend(extra_contexts)
    add_operations(app, OPERATIONS)
    app[OPENAPI] = build_openapi(OPERATIONS)
    limit = settings.jobs.max_runtime_limit_s
    set_property(
        app[OPENAPI], "TrainConfigIn", "max_runtime_s", minimum=1, maximum=limit,
        description=f"Deadline of the job in whole seconds, from 1 to {limit:g} (the service's "
        "jobs.max_runtime_limit_s); blank = jobs.default_max_runtime_s.",
    )
    app[PUBLIC_ROUTES] = public_route_names(OPERATIONS)
    return app
