"""PostgreSQL goes away under a running ``mlw serve --no-worker`` and comes back.

While it is down, ``/ready`` answers 503 naming the database and API requests get a 503
(not a 500 and not a hang); once it is back, the same process serves requests again
without a restart: the pool pre-pings and drops the connections the restart killed.

This stops and starts the machine's shared PostgreSQL cluster once per run (other test
runs see a few seconds of outage), so it is marked slow.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from server.redis_server import free_port
from tests.conftest import IN_CI
from tests.e2e.processes import API, ManagedProcess, mlw, process_env, run_mlw, wait_http

CLUSTER_VERSION = "15"
CLUSTER_NAME = "main"


def _cluster(action: str) -> None:
    done = subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", CLUSTER_VERSION, CLUSTER_NAME, action, *(
            ["-m", "fast"] if action == "stop" else [])],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, f"pg_ctlcluster {action}: {done.stdout}{done.stderr}"


@pytest.fixture
def cluster_control(postgres_server_url: str) -> None:
    """Skip unless this machine's cluster can be stopped and started from here."""
    reason = ""
    if shutil.which("pg_ctlcluster") is None:
        reason = "pg_ctlcluster is not installed"
    elif not Path(f"/etc/postgresql/{CLUSTER_VERSION}/{CLUSTER_NAME}").is_dir():
        reason = f"no PostgreSQL cluster {CLUSTER_VERSION}/{CLUSTER_NAME} on this machine"
    elif "127.0.0.1" not in postgres_server_url and "localhost" not in postgres_server_url:
        reason = "the test PostgreSQL is not on this machine"
    if reason:
        if IN_CI and shutil.which("pg_ctlcluster") is not None:
            pytest.fail(reason)
        pytest.skip(reason)


def _get(url: str, token: str | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read())


@pytest.fixture
def web(postgres_migrated_database_url: str, redis_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``mlw serve --no-worker`` on a fresh PostgreSQL database: (base URL, a user's token)."""
    env = process_env({
        "MLW_DATABASE_URL": postgres_migrated_database_url,
        "MLW_REDIS_URL": redis_url,
        "MLW_DATA_DIR": str(tmp_path / "data"),
    })
    token = run_mlw(env, "users", "create", "pat")[-1].strip()
    heartbeat = redis.Redis.from_url(redis_url)
    heartbeat.set("mlw:workers:pg-restart-test:1", "{}", ex=600)  # /ready also wants a worker
    heartbeat.close()
    port = free_port()
    process = ManagedProcess("web", mlw("serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"), env)
    process.start()
    url = f"http://127.0.0.1:{port}{API}"
    try:
        wait_http(process, f"{url}/ready", 200, timeout=60)
        yield url, token
    finally:
        process.stop()
        print(process.tail(40))


def _poll(url: str, status: int, timeout: float, token: str | None = None) -> tuple[int, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        got = _get(url, token)
        if got[0] == status or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.postgres
def test_the_server_reports_not_ready_while_postgresql_is_down_and_recovers_without_a_restart(
    cluster_control: None, web: tuple[str, str]
) -> None:
    url, token = web
    assert _get(f"{url}/datasets", token)[0] == 200

    _cluster("stop")
    try:
        down_ready = _poll(f"{url}/ready", 503, timeout=30)
        down_api = _get(f"{url}/datasets", token)
    finally:
        _cluster("start")

    assert down_ready[0] == 503, down_ready
    assert down_ready[1]["checks"]["database"]["ok"] is False
    assert down_ready[1]["checks"]["redis"]["ok"] is True
    assert down_api[0] == 503, down_api
    assert down_api[1]["error"]["code"] == "database_unavailable", down_api
    up_ready = _poll(f"{url}/ready", 200, timeout=60)
    assert up_ready[0] == 200, up_ready
    status, body = _poll(f"{url}/datasets", 200, timeout=30, token=token)
    assert (status, body["items"]) == (200, [])
    assert _get(f"{url}/users/me/training-jobs", token)[0] == 200
