"""``mlw serve``: the embedded single-node deployment in one command.

Creates the data directory, applies migrations, starts the embedded Redis when
``redis.url`` is empty, starts one ``mlw worker`` subprocess (unless ``--no-worker``),
creates a local admin on first start, optionally loads a demo, runs the web server, and
stops everything it started on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from server.http_server import serve_until_signalled
from server.redact import install_redaction
from server.redis_server import EmbeddedRedis
from server.revocation import record_embedded_url
from store.settings import Settings

log = logging.getLogger(__name__)

WORKER_STOP_TIMEOUT_S = 15.0
GIL_SWITCH_INTERVAL_S = 0.0005


def _with_redis(settings: Settings, url: str) -> Settings:
    return dataclasses.replace(settings, redis=dataclasses.replace(settings.redis, url=url))


def _child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MLW_REDIS_URL=settings.redis.url,
        MLW_DATABASE_URL=settings.database_url,
        MLW_DATA_DIR=str(settings.data_dir),
        MLW_DATA_ROOT=settings.data_root,
        MLW_ARTIFACTS_ROOT=settings.artifacts_url,
    )
    return env


def _die_with_parent() -> None:
    """In the child before exec: receive SIGTERM when the serving process dies (Linux)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:  # pragma: no cover - not Linux: the explicit stop below still applies
        pass


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    """Start ``mlw worker`` as a child process with this configuration.

    The child is asked to die with its parent, so a killed ``mlw serve`` leaves no
    worker behind consuming from the same Redis.
    """
    command = [sys.executable, "-m", "server.cli", "worker", "--concurrency", str(settings.worker.concurrency)]
    return subprocess.Popen(command, env=_child_env(settings), stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = WORKER_STOP_TIMEOUT_S) -> None:
    """SIGTERM (a warm shutdown), then SIGQUIT (cold) and SIGKILL if it takes too long.

    A fit cut short here is not lost: its job is retried by the reaper of any worker.
    """
    for sig, wait_s in ((signal.SIGTERM, timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, None)):
        if proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


async def _first_start(settings: Settings, demo: bool) -> tuple[str | None, str | None]:
    """Create the local admin if there are no users; load the demo if asked.

    Returns the admin's new token (first start only) and the demo pipeline's id (with ``demo``).
    """
    from server.bootstrap import ensure_admin, load_demo
    from store.engine import create_engine, create_session_factory

    engine = create_engine(settings.database_url)
    try:
        sessions = create_session_factory(engine)
        token = await ensure_admin(sessions, settings)
        pipeline_id = await load_demo(sessions, settings) if demo else None
        return token, pipeline_id
    finally:
        await engine.dispose()


def build_app(settings: Settings) -> web.Application:
    """The full application: REST API, websocket hub and static UI."""
    from server.app import create_app
    from server.hub import add_hub_route, hub_ctx

    app = create_app(settings, extra_contexts=[hub_ctx])
    add_hub_route(app)
    if importlib.util.find_spec("server.ui") is not None:
        from server.ui import add_ui_routes

        add_ui_routes(app)
    return app


def run_serve(settings: Settings, *, no_worker: bool = False, demo: bool = False) -> int:
    """Run the embedded deployment until interrupted; returns the exit status."""
    from actors.jobs.worker_app import configure_broker
    from store.migrate import upgrade

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_redaction()
    # aiosqlite runs every statement on a thread; the default 5 ms GIL switch interval
    # would add up to that much to each of a request's several thread hand-offs.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    redis_server: EmbeddedRedis | None = None
    worker: subprocess.Popen[bytes] | None = None
    try:
        if not settings.redis.url:
            redis_server = EmbeddedRedis(workdir=Path(settings.data_dir) / "redis", persist=True).start()
            settings = _with_redis(settings, redis_server.url)
            record_embedded_url(settings, redis_server.url)  # for `mlw tokens revoke` of this data dir
            print(f"embedded Redis on {redis_server.url}", flush=True)
        configure_broker(settings)
        token, demo_pipeline = asyncio.run(_first_start(settings, demo))
        if not no_worker:
            worker = start_worker(settings)
        url = f"http://{settings.server.host}:{settings.server.port}/"
        print(f"mlw is serving on {url}", flush=True)
        if demo_pipeline:
            print(f"the example pipeline is on the canvas at {url}?pipeline={quote(demo_pipeline)}", flush=True)
        if token:
            print("a local admin was created; sign in with this token (shown once):", flush=True)
            print(token, flush=True)
        asyncio.run(serve_until_signalled(build_app(settings), settings.server.host, settings.server.port))
        return 0
    finally:
        if worker is not None:
            stop_process(worker)
        if redis_server is not None:
            redis_server.stop()
