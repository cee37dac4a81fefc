"""Fixtures of the browser tests: a real ``mlw serve`` (web app, hub, worker), users, Chromium.

The server runs as a subprocess on a free port with its own data directory (SQLite) and
the test Redis (``redis_server_url``); tests drive Debian's Chromium with Playwright's
sync API. Without ``/usr/bin/chromium`` the tests skip, except under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from server.redis_server import EmbeddedRedis
from store.engine import create_engine, create_session_factory
from store.users import create_user

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
READY_TIMEOUT_S = 90.0
IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclasses.dataclass(frozen=True)
class LiveServer:
    """A running ``mlw serve``: where it listens and where it keeps its data."""

    url: str
    data_dir: Path
    log: Path

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.data_dir / 'mlw.db'}"

    def log_tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ml-workflow/api/ready", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # mlw serve stops its worker, then itself
    try:
        proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium, or skip (fail under ``CI=true``)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if IN_CI:
            pytest.fail(message + " (required under CI=true)")
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def live_server(chromium_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``mlw serve`` with one worker, on a free port and a private Redis, until the end of the session.

    The Redis is its own so that this long-lived worker never consumes (and drops) the
    training messages that other tests send on the shared test Redis.
    """
    private_redis = EmbeddedRedis().start()
    redis_server_url = private_redis.url
    data_dir = tmp_path_factory.mktemp("mlw-ui")
    port = _free_port()
    log = data_dir / "serve.log"
    env = {
        **os.environ,
        "MLW_REDIS_URL": redis_server_url,
        "MLW_DATA_DIR": str(data_dir),
        "MLW_WORKER_CONCURRENCY": "2",
        "PYTHONUNBUFFERED": "1",
    }
    # Exactly ``mlw serve`` (run as a module so it works from the checkout).
    command = [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = LiveServer(url=f"http://127.0.0.1:{port}", data_dir=data_dir, log=log)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _ready(server.url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlw serve did not become ready:\n{server.log_tail()}")
            time.sleep(0.3)
        yield server
    finally:
        _stop(proc)
        private_redis.close()


async def _create_user(database_url: str, name: str) -> str:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine).begin() as session:
            _, token = await create_user(session, name)
        return token
    finally:
        await engine.dispose()


@pytest.fixture
def user_token(live_server: LiveServer, request: pytest.FixtureRequest) -> str:
    """The API token of a brand-new user (one per test, so tests never see each other's jobs)."""
    name = f"u{abs(hash(request.node.nodeid)) % 10**8}_{int(time.time() * 1000) % 10**6}"
    # Playwright's sync API keeps an event loop running in this thread: use another one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _create_user(live_server.database_url, name)).result()


@pytest.fixture(scope="session")
def dataset_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small binary-classification CSV (400 rows, 4 features, target ``label``)."""
    rng = np.random.default_rng(7)
    n = 400
    features = rng.normal(size=(n, 4))
    label = (features[:, 0] + 0.5 * features[:, 1] - features[:, 2] > 0).astype(int)
    frame = pd.DataFrame({"f1": features[:, 0], "f2": features[:, 1], "f3": features[:, 2], "f4": features[:, 3]})
    frame["label"] = label
    path = tmp_path_factory.mktemp("data") / "customers.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: Path) -> Iterator[Browser]:
    """One headless Chromium per test module.

    Playwright's sync API keeps an event loop running in the main thread while it is
    started; module scope stops it before any other module's asyncio tests run.
    """
    # Playwright replaces the thread's current event loop with its own; the loop it
    # replaces would then be garbage-collected unclosed (a ResourceWarning that fails a
    # later test), so close it now and leave no loop behind.
    previous = asyncio.get_event_loop_policy()._local._loop  # type: ignore[attr-defined]
    if previous is not None and not previous.is_running():
        previous.close()
    asyncio.set_event_loop(None)
    try:
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
            try:
                yield instance
            finally:
                instance.close()
    finally:
        asyncio.set_event_loop(None)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (own storage) and page; page errors fail the test."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(20_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
        assert not errors, f"errors in the page: {errors}"
    finally:
        context.close()
