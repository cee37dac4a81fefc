"""The websocket hub (DESIGN 6): live job events for the canvas and the dashboard.

Plug it into the application with one cleanup context and one route::

    app = create_app(settings, extra_contexts=[hub_ctx])
    add_hub_route(app)

``hub_ctx`` needs ``SETTINGS`` (``redis.url``) and ``SESSIONS`` from :mod:`server.keys`,
so it runs after the database and Redis contexts. ``app[HUB].status`` tells whether the
Redis subscription is up, for ``/ready``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import redis.asyncio as aioredis
from aiohttp import web

from server.hub.fanout import FanoutStatus, RedisState, redis_connector
from server.hub.policy import CloseCode, HubConfig
from server.hub.service import Hub
from server.hub.source import HubSource, Principal, StoreSource
from server.hub.view import serve_socket
from server.keys import AUTH, SESSIONS, SETTINGS
from store.settings import Settings

__all__ = [
    "HUB",
    "HUB_PATH",
    "CloseCode",
    "FanoutStatus",
    "Hub",
    "HubConfig",
    "HubSource",
    "Principal",
    "RedisState",
    "StoreSource",
    "add_hub_route",
    "config_from_settings",
    "hub_ctx",
    "hub_view",
    "make_hub_ctx",
]

HUB_PATH = "/ml-workflow/ws"
HUB: web.AppKey[Hub] = web.AppKey("hub", Hub)

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


def make_hub_ctx(
    config: HubConfig | None = None,
    *,
    connect: Callable[[], aioredis.Redis] | None = None,
    source: Callable[[web.Application], HubSource] | None = None,
) -> CleanupCtx:
    """A ``cleanup_ctx`` that runs the hub with non-default parts.

    Args:
        config: Limits and timings (default: :class:`HubConfig` with the ``[hub]`` settings).
        connect: Redis client factory for the subscription (default: ``redis.url`` of the settings).
        source: Builds the database reads from the app (default: :class:`StoreSource` on ``SESSIONS``).
    """

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        hub_config = config or config_from_settings(app[SETTINGS])
        connector = connect or redis_connector(app[SETTINGS].redis.url, health_check_s=hub_config.heartbeat_s)
        authenticator = app.get(AUTH)
        reads = source(app) if source is not None else StoreSource(app[SESSIONS], authenticator)
        hub = Hub(reads, connector, hub_config)
        app[HUB] = hub
        if authenticator is not None:
            authenticator.revocation_hooks.append(hub.revoked)

        async def on_shutdown(_app: web.Application) -> None:
            # on_shutdown runs before the server waits for open handlers; without this
            # every socket would hold shutdown up until its timeout.
            await hub.shutdown()

        app.on_shutdown.append(on_shutdown)
        hub.start()
        try:
            yield
        finally:
            await hub.shutdown()
            await hub.stop()

    return ctx


def config_from_settings(settings: Settings) -> HubConfig:
    """The default :class:`HubConfig` with the ``[hub]`` settings of the configuration."""
    return HubConfig(
        max_sockets_per_user=settings.hub.max_sockets_per_user,
        snapshot_warnings_per_job=settings.hub.snapshot_warnings_per_job,
    )


hub_ctx: CleanupCtx = make_hub_ctx()
"""The hub with default limits, on the app's settings and session factory."""


async def hub_view(request: web.Request) -> web.WebSocketResponse:
    """``GET /ml-workflow/ws``."""
    return await serve_socket(request.app[HUB], request)


def add_hub_route(app: web.Application) -> None:
    """Route ``GET /ml-workflow/ws`` to the hub."""
    app.router.add_get(HUB_PATH, hub_view, name="hub")
