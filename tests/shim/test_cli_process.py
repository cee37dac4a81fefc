"""Actors running in a separate worker process started with ``python -m shim``."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from shim.abort import abort
from shim.cli import READY_LINE
from shim.results import ResultFailure

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker_process(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A prefork ``python -m shim -E`` worker consuming the test actors; yields the Redis URL."""
    monkeypatch.setenv("SHIM_PROCESS_REDIS_URL", redis_url)
    env = {**os.environ, "SHIM_PROCESS_REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "shim", "tests.shim.process_actors", "--processes", "2", "--loglevel", "warning",
         "-E"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == READY_LINE, f"worker did not start: {line!r} (exit {proc.poll()})"
        yield redis_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.slow
def test_actors_retry_time_out_run_async_and_abort_in_a_separate_worker_process(worker_process: str) -> None:
    from tests.shim import process_actors

    actors = importlib.reload(process_actors)  # bind the actors to this test's Redis URL

    client = redis.Redis.from_url(worker_process)
    retried = actors.flaky.send("attempts")
    limited = actors.spins.send()
    async_message = actors.async_pid.send()
    assert retried.get_result(block=True, timeout=20_000) == 3
    with pytest.raises(ResultFailure) as info:
        limited.get_result(block=True, timeout=20_000)
    assert info.value.orig_exc_type == "TimeLimitExceeded"
    worker_pid = async_message.get_result(block=True, timeout=20_000)
    assert worker_pid != os.getpid()

    job = actors.Trainer.send("job-1")
    deadline = time.monotonic() + 20
    while client.get("started:job-1") is None:
        assert time.monotonic() < deadline, "the training actor never started"
        time.sleep(0.02)
    # The marker is written once the message has run for running_marker_delay_ms.
    running = actors.broker.get_running(job.message_id)
    while running is None and time.monotonic() < deadline:
        time.sleep(0.02)
        running = actors.broker.get_running(job.message_id)
    assert running is not None and running.pid == int(client.get("started:job-1") or 0)
    abort(job.message_id, abort_timeout=500, broker=actors.broker)
    with pytest.raises(ResultFailure) as aborted:
        job.get_result(block=True, timeout=20_000)
    assert aborted.value.orig_exc_type == "Abort"
    assert client.get("noticed:job-1") == b"1"
    assert int(client.get("attempts") or 0) == 3


@pytest.mark.slow
def test_the_worker_answers_celery_remote_control_and_sends_events_with_dash_e(worker_process: str) -> None:
    from tests.shim import process_actors

    actors = importlib.reload(process_actors)
    inspector = actors.broker.app.control.inspect(timeout=5)
    assert inspector.ping(), "remote control is on by default"
    registered = inspector.registered() or {}
    assert any("Trainer" in names and "shim.dispatch" in names for names in registered.values()), registered
    confs = inspector.conf() or {}
    assert confs and all(conf["worker_send_task_events"] for conf in confs.values()), confs
