"""Real ``mlw`` processes for the end-to-end tests: started, watched and always stopped.

Every process runs in its own session (process group), so a stop that has to fall back
to SIGKILL also takes down the children it started (prefork worker children, the worker
beside ``mlw serve``). The environment, command line, readiness poll and group kill are the
benchmarks' (``bench/_cluster.py``), so that tests and benches start ``mlw`` one way.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence

import psutil  # type: ignore[import-untyped]

from bench._cluster import API, REPO, WS_PATH, clean_env, http_status, kill_group, mlw
from bench._cluster import wait_http as wait_url

__all__ = ["API", "REPO", "WS_PATH", "ManagedProcess", "http_status", "mlw", "process_env", "run_mlw", "wait_http",
           "worker_processes"]

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0

FAST_JOB_SETTINGS = {
    "MLW_JOBS_HEARTBEAT_S": "0.2",
    "MLW_JOBS_PROGRESS_INTERVAL_S": "0.1",
    "MLW_JOBS_STALE_AFTER_S": "10",
    "MLW_JOBS_REAPER_INTERVAL_S": "1",
    "MLW_JOBS_CANCEL_GRACE_S": "5",
    "MLW_JOBS_ONE_ACTIVE_PER_NODE": "false",
    "MLW_WORKER_CONCURRENCY": "1",
    # These suites spread one user's jobs over several workers at once (kills, restarts,
    # several machines); fair share (default 1) has its own: tests/load/test_isolation.py
    # and tests/actors/jobs/test_fair_share_worker.py set it explicitly.
    "MLW_JOBS_MAX_RUNNING_PER_USER": "0",
}
"""Short heartbeats and frequent progress, so a few seconds of fit show every kind of event."""


def process_env(settings: Mapping[str, str]) -> dict[str, str]:
    """This environment without any ``MLW_*`` variable, plus the fast job settings and ``settings``."""
    return clean_env({**FAST_JOB_SETTINGS, **settings})


class ManagedProcess:
    """A child process whose combined output is collected line by line in the background.

    Args:
        name: Shown in failure messages.
        argv: The command line.
        env: Its whole environment.
    """

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._proc: subprocess.Popen[str] | None = None
        self._pump: threading.Thread | None = None
        self.left_behind: list[str] = []
        """Descendants still alive after the process itself exited on SIGTERM (then killed)."""

    @property
    def pid(self) -> int:
        assert self._proc is not None, f"{self.name} was not started"
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> ManagedProcess:
        """Start the process; returns at once."""
        self._proc = subprocess.Popen(
            self.argv, cwd=REPO, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        self._pump = threading.Thread(target=self._read, args=(self._proc,), name=f"pump-{self.name}", daemon=True)
        self._pump.start()
        return self

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def wait_for_line(self, needle: str, timeout: float = START_TIMEOUT_S) -> int:
        """Wait until a line containing ``needle`` was printed; returns its index in :attr:`lines`."""
        deadline = time.monotonic() + timeout
        with self._seen:
            while True:
                for index, line in enumerate(self.lines):
                    if needle in line:
                        return index
                if not self.running:
                    raise AssertionError(f"{self.name} exited before printing {needle!r}:\n{self.tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.name} did not print {needle!r} in {timeout:g} s:\n{self.tail()}")
                self._seen.wait(min(left, 0.5))

    def tail(self, count: int = 60) -> str:
        with self._seen:
            return "\n".join(self.lines[-count:])

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL the whole process group; returns the exit code."""
        proc = self._proc
        if proc is None:
            return None
        descendants = _descendants(proc.pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                kill_group(proc.pid)
                proc.wait()
        # Children that outlived their parent (they share its process group) must not leak.
        self.left_behind = [" ".join(p.cmdline()) for p in descendants if _alive(p)]
        kill_group(proc.pid)
        if self._pump is not None:
            self._pump.join(10)
        if proc.stdout is not None:
            proc.stdout.close()
        return proc.returncode


def worker_processes(workers: Sequence[ManagedProcess]) -> dict[int, int]:
    """Every live process of each worker (itself and its descendants), mapped to the worker's index."""
    owners: dict[int, int] = {}
    for index, worker in enumerate(workers):
        owners[worker.pid] = index
        owners.update({child.pid: index for child in _descendants(worker.pid)})
    return owners


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return []


def _alive(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def run_mlw(env: Mapping[str, str], *args: str, timeout: float = 60.0) -> list[str]:
    """Run one short ``mlw`` command to completion; returns its output lines (fails on a non-zero exit)."""
    done = subprocess.run(
        mlw(*args), cwd=REPO, env=dict(env), stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=timeout, check=False,
    )
    assert done.returncode == 0, f"mlw {' '.join(args)} exited with {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout.splitlines()


def wait_http(process: ManagedProcess, url: str, status: int = 200, timeout: float = START_TIMEOUT_S) -> None:
    """Poll ``url`` until it answers ``status`` while ``process`` keeps running."""
    try:
        wait_url(url, status, timeout, alive=lambda: process.running)
    except RuntimeError as exc:
        raise AssertionError(f"{process.name}: {exc}:\n{process.tail()}") from None
