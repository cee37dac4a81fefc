"""A real S3-protocol server for the tests: moto's standalone ``moto_server`` on a free port.

One server per test run (session fixture), one fresh bucket per test. moto is a test
dependency, so it is always installed after ``make venv``; without it the tests that need
it skip, except under ``CI=true`` where that is an error. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.redis_server import free_port

ACCESS_KEY = "mlw-test-key"
SECRET_KEY = "mlw-test-secret"
REGION = "us-east-1"
READY_WAIT_S = 60.0


def _moto_binary() -> str | None:
    beside = Path(sys.executable).parent / "moto_server"
    return str(beside) if beside.exists() else shutil.which("moto_server")


@dataclass(frozen=True)
class S3Root:
    """A bucket on the test server and the settings that point a process at it."""

    endpoint: str
    bucket: str
    prefix: str = "mlw"

    @property
    def url(self) -> str:
        """``s3://bucket/prefix``: the value of ``data.root`` / ``artifacts.root``."""
        return f"s3://{self.bucket}/{self.prefix}"

    def env(self, *, presigned: bool = False) -> dict[str, str]:
        """``MLW_*`` variables for a process that stores everything in this bucket."""
        return {
            "MLW_DATA_ROOT": self.url,
            "MLW_S3_ENDPOINT_URL": self.endpoint,
            "MLW_S3_REGION": REGION,
            "MLW_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "MLW_S3_SECRET_ACCESS_KEY": SECRET_KEY,
            "MLW_S3_ADDRESSING_STYLE": "path",
            "MLW_S3_PRESIGNED_DOWNLOADS": "true" if presigned else "false",
        }

    def overrides(self, *, presigned: bool = False) -> dict[str, dict[str, object]]:
        """The same as :meth:`env`, as ``load_settings(overrides=...)``."""
        return {
            "data": {"root": self.url},
            "s3": {
                "endpoint_url": self.endpoint, "region": REGION, "access_key_id": ACCESS_KEY,
                "secret_access_key": SECRET_KEY, "addressing_style": "path", "presigned_downloads": presigned,
            },
        }

    def client(self):  # type: ignore[no-untyped-def]
        """A boto3 client on the test server (to look at the bucket from outside)."""
        import boto3

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        )

    def object_keys(self) -> list[str]:
        """Every object key in the bucket."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a moto server started for this run."""
    from tests.conftest import IN_CI

    binary = _moto_binary()
    if binary is None:
        message = "moto_server not installed (pip install -e '.[test]')"
        if IN_CI:
            pytest.fail(message + " (required under CI=true)")
        pytest.skip(message)
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(endpoint, proc)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_ready(endpoint: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_WAIT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto_server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"moto_server did not answer on {endpoint} within {READY_WAIT_S} s")


def make_bucket(endpoint: str) -> S3Root:
    """A new empty bucket on the server."""
    root = S3Root(endpoint, f"mlw-{uuid.uuid4().hex[:16]}")
    root.client().create_bucket(Bucket=root.bucket)
    return root


@pytest.fixture
def s3_root(moto_endpoint: str) -> S3Root:
    """A fresh bucket for one test."""
    return make_bucket(moto_endpoint)
