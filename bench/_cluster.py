"""Real processes for the benchmarks: an embedded Redis and ``mlw serve``, always stopped.

Deliberately independent of ``tests/``: a benchmark must run from a checkout without the
test suite's fixtures. The other way round is fine: ``tests/e2e/processes.py`` builds its
processes on the primitives here (environment, command line, readiness polls, group kill),
so that both start ``mlw`` the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from server.redis_server import free_port

REPO = Path(__file__).resolve().parents[1]
API = "/ml-workflow/api"
WS_PATH = "/ml-workflow/ws"


__all__ = ["API", "REPO", "WS_PATH", "MlwServe", "clean_env", "free_port", "http_status", "kill_group", "mlw",
           "raise_open_file_limit", "started", "wait_http", "workspace"]


def mlw(*args: str) -> list[str]:
    """The ``mlw`` command line, run as a module so that it works from the checkout."""
    return [sys.executable, "-m", "server.cli", *args]


def clean_env(settings: Mapping[str, str]) -> dict[str, str]:
    """This environment without any ``MLW_*`` variable, plus ``settings``: a child sees only the settings given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLW_")}
    env.update(PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    env.update(settings)
    return env


def kill_group(pgid: int) -> None:
    """SIGKILL a whole process group (a child started with ``start_new_session``, with its own children)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def raise_open_file_limit(wanted: int) -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` towards ``wanted`` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < ceiling:
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def http_status(url: str) -> int | None:
    """The status of ``GET url``, or ``None`` when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return None


def wait_http(
    url: str, expect: int = 200, timeout_s: float = 90.0, proc: subprocess.Popen[bytes] | None = None,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Poll ``url`` until it answers ``expect``; a ``RuntimeError`` when the time is up or the process
    (``proc``, or whatever ``alive`` watches) exited first."""
    deadline = time.monotonic() + timeout_s
    while http_status(url) != expect:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited with {proc.returncode}")
        if alive is not None and not alive():
            raise RuntimeError(f"the process serving {url} exited")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer {expect} within {timeout_s:g} s")
        time.sleep(0.1)


def _wait_hub(url: str, timeout_s: float = 30.0) -> None:
    """Wait until ``/ready`` reports the hub's Redis subscription up (there is no worker to wait for)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
        except (urllib.error.URLError, OSError):
            body = b"{}"
        if json.loads(body or b"{}").get("checks", {}).get("hub", {}).get("ok"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url}: the hub's subscription did not come up within {timeout_s:g} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
    kill_group(proc.pid)
    proc.wait()


@contextlib.contextmanager
def started(argv: list[str], env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` in its own process group with output to ``log``; stopped (SIGTERM, then SIGKILL) on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=REPO, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            _stop(proc)


class MlwServe:
    """``mlw serve --no-worker`` on SQLite and an embedded Redis, in a temporary directory."""

    def __init__(self, tmp: Path, redis_url: str, settings: Mapping[str, str]) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = f"sqlite+aiosqlite:///{tmp / 'mlw.db'}"
        self.env = clean_env({"MLW_DATABASE_URL": self.database_url, "MLW_REDIS_URL": redis_url,
                         "MLW_DATA_DIR": str(tmp / "data"), **settings})

    def users_create(self, name: str) -> str:
        """``mlw users create NAME``; returns the token."""
        done = subprocess.run(mlw("users", "create", name), cwd=REPO, env=self.env,
                              capture_output=True, text=True, check=True, timeout=120)
        return done.stdout.strip().splitlines()[-1].strip()

    @contextlib.contextmanager
    def running(self) -> Iterator[subprocess.Popen[bytes]]:
        argv = mlw("serve", "--host", "127.0.0.1", "--port", str(self.port), "--no-worker")
        with started(argv, self.env, self.tmp / "serve.log") as proc:
            wait_http(f"{self.url}{API}/health", proc=proc)
            _wait_hub(f"{self.url}{API}/ready")
            yield proc


@contextlib.contextmanager
def workspace() -> Iterator[tuple[Path, str]]:
    """A temporary directory and the URL of an embedded Redis living in it."""
    from server.redis_server import EmbeddedRedis

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        with EmbeddedRedis(workdir=tmp / "redis") as redis_server:
            yield tmp, redis_server.url
