"""A real S3-protocol server for the tests: moto's standalone ``moto_server`` on a free port.

One server per test run (session fixture), one fresh bucket per test. moto is a test
dependency, so it is always installed after ``make venv``; without it the tests that need
it skip, except under ``CI=true`` where that is an error. Nothing leaves 127.0.0.1.

``storage`` is where a test deployment keeps datasets and models: its data directory, or a
bucket. It is the data directory unless a test asks for both backends with
:func:`on_both_storages`, which runs it once per backend (``[local_storage]``, ``[object_storage]``).
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
from typing import Any

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


LOCAL_STORAGE, OBJECT_STORAGE = "local_storage", "object_storage"
MODELS = "uploads/models/"


@dataclass(frozen=True)
class Storage:
    """Where a test deployment keeps datasets and models: ``data_dir``, or ``bucket`` when set.

    The data directory exists either way (the SQLite database and each process's scratch
    space live there); with a bucket, nothing the service stores is written to it.
    """

    data_dir: Path
    bucket: S3Root | None = None

    def env(self) -> dict[str, str]:
        """``MLW_*`` variables of a process using this storage."""
        return {"MLW_DATA_DIR": str(self.data_dir), **(self.bucket.env() if self.bucket else {})}

    def model_files(self) -> set[str]:
        """The stored model files (``.joblib``), relative to ``uploads/models/``."""
        if self.bucket is None:
            root = self.data_dir / MODELS
            return {str(p.relative_to(root)) for p in root.rglob("*.joblib") if not p.name.startswith(".")}
        prefix = f"{self.bucket.prefix}/{MODELS}"
        keys = self.bucket.object_keys()
        return {k.removeprefix(prefix) for k in keys if k.startswith(prefix) and k.endswith(".joblib")}

    def read_model(self, uri: str) -> bytes:
        """The bytes of the object a row's ``artifact_uri`` names."""
        if self.bucket is None:
            return (self.data_dir / uri).read_bytes()
        key = uri.removeprefix(f"s3://{self.bucket.bucket}/")
        return bytes(self.bucket.client().get_object(Bucket=self.bucket.bucket, Key=key)["Body"].read())

    def temporary(self) -> list[str]:
        """Temporary objects of unfinished writes: ``<prefix>/_tmp/`` keys and unfinished multipart
        uploads in the bucket, or hidden ``.*.tmp`` files beside the stored ones."""
        if self.bucket is None:
            return sorted(str(p.relative_to(self.data_dir)) for p in self.data_dir.rglob(".*.tmp"))
        client, name = self.bucket.client(), self.bucket.bucket
        uploads = client.list_multipart_uploads(Bucket=name).get("Uploads", [])
        return sorted([k for k in self.bucket.object_keys() if "/_tmp/" in k] + [u["Key"] for u in uploads])


def on_both_storages(object_storage_timeout_s: int | None = None) -> Any:
    """Runs a test once on the data directory and once on a bucket (``storage`` fixture)."""
    marks = [pytest.mark.timeout(object_storage_timeout_s)] if object_storage_timeout_s else []
    return pytest.mark.parametrize(
        "storage", [LOCAL_STORAGE, pytest.param(OBJECT_STORAGE, marks=marks)], indirect=True
    )


@pytest.fixture
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """The data directory ``tmp_path/data``, and a fresh bucket when the test runs on object storage."""
    kind = getattr(request, "param", LOCAL_STORAGE)
    bucket = make_bucket(request.getfixturevalue("moto_endpoint")) if kind == OBJECT_STORAGE else None
    return Storage(tmp_path / "data", bucket)
