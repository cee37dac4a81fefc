"""SIGKILL of a worker while it writes a model to object storage: no version points at a partial object.

The deployment stores everything in a bucket of a real S3 server (moto) and shares no
directory: the web process and each worker have their own data directory. The worker
talks to the bucket through a proxy the test controls, which holds the upload of the
model's temporary object (``<prefix>/_tmp/...joblib``) open: the worker is then, for
certain, in the middle of writing its artifact. The test SIGKILLs the whole worker there
and checks that no version row exists and no object sits under a real model key. A fresh
worker (through the proxy, now passing everything) then gets the job back from the reaper
and finishes it: one version, whose recorded sha256 is the sha256 of the object it names.

What earlier killed writers left in the bucket (a temporary object written but never
committed, an unfinished multipart upload) is removed by the workers' sweep once older than
``data.temp_max_age_s`` (here 5 s): no lifecycle rule is needed.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import threading
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import text

from server.redis_server import EmbeddedRedis, free_port
from store.engine import create_engine
from tests.e2e import conftest as e2e
from tests.e2e.clients import Api
from tests.e2e.conftest import DeploymentFactory
from tests.job_fixtures import graph_for
from tests.s3_fixtures import Storage, make_bucket

http, new_deployment, own_redis, training_csv = e2e.http, e2e.new_deployment, e2e.own_redis, e2e.training_csv

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

QUICK_FIT = graph_for("random_forest", hyperparameters={"n_estimators": 10, "max_depth": 4})
TEMP_MAX_AGE_S = 5
_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "expect", "keep-alive"}


class HoldingProxy:
    """An HTTP proxy to the S3 server that can hold model uploads open (in its own thread)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.holding = True
        self.held = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._release: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="s3-proxy", daemon=True)

    def start(self) -> HoldingProxy:
        self._thread.start()
        assert self._ready.wait(30), "the proxy did not start"
        return self

    def release(self) -> None:
        """Stop holding: the held request is answered with an error, later ones pass."""
        self.holding = False
        if self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)

    def stop(self) -> None:
        self.release()
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _close(self) -> None:
        await self._runner.cleanup()
        await self._session.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.run_forever()
        self._loop.close()

    async def _serve(self) -> None:
        self._release = asyncio.Event()
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._ready.set()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        is_model_upload = request.method == "PUT" and "/_tmp/" in request.path and request.path.endswith(".joblib")
        if is_model_upload and self.holding:
            self.held.set()
            assert self._release is not None
            await self._release.wait()
            return web.Response(status=503, text="released by the test")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with self._session.request(request.method, self.upstream + request.path_qs, headers=headers,
                                         data=body) as answer:
            payload = await answer.read()
            out = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
            return web.Response(status=answer.status, body=payload, headers=out)


def _leave_killed_writes(storage: Storage) -> list[str]:
    """What writers killed before their commit leave: a whole temporary object, an upload that never completed."""
    bucket = storage.bucket
    assert bucket is not None
    client, temp = bucket.client(), f"{bucket.prefix}/_tmp/"
    client.put_object(Bucket=bucket.bucket, Key=f"{temp}1f-old.card.json", Body=b"{}")
    upload = client.create_multipart_upload(Bucket=bucket.bucket, Key=f"{temp}2e-old.joblib")
    client.upload_part(Bucket=bucket.bucket, Key=f"{temp}2e-old.joblib", UploadId=upload["UploadId"], PartNumber=1,
                       Body=b"x" * 1024)
    left = storage.temporary()
    assert len(left) == 2, left
    return left


async def _versions(database_url: str) -> list[tuple[str, str, str]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT job_id, artifact_uri, artifact_sha256 FROM model_versions"))
            return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]
    finally:
        await engine.dispose()


async def test_a_worker_killed_while_writing_its_model_to_s3_leaves_no_version_on_a_partial_object(
    moto_endpoint: str, own_redis: EmbeddedRedis, new_deployment: DeploymentFactory, tmp_path: Path,
    http: aiohttp.ClientSession, training_csv: Path,
) -> None:
    bucket = make_bucket(moto_endpoint)
    proxy = HoldingProxy(moto_endpoint).start()
    try:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'database' / 'mlw.db'}"
        (tmp_path / "database").mkdir()
        deployment = new_deployment({
            **bucket.env(), "MLW_REDIS_URL": own_redis.url, "MLW_DATABASE_URL": database_url,
            "MLW_DATA_DIR": str(tmp_path / "cli"), "MLW_JOBS_STALE_AFTER_S": "3", "MLW_JOBS_REAPER_INTERVAL_S": "0.5",
            "MLW_JOBS_MAX_ATTEMPTS": "3", "MLW_DATA_TEMP_MAX_AGE_S": str(TEMP_MAX_AGE_S),
            "MLW_DATA_TEMP_SWEEP_INTERVAL_S": "0.5",
        })
        storage = Storage(tmp_path / "cli", bucket)
        leftovers = _leave_killed_writes(storage)
        token = deployment.create_user("alice")
        web_process = deployment.start_web(MLW_DATA_DIR=str(tmp_path / "web"))
        doomed = deployment.start_worker(MLW_DATA_DIR=str(tmp_path / "worker-1"), MLW_S3_ENDPOINT_URL=proxy.url)
        web_process.wait_serving()
        doomed.wait_for_line("shim worker ready")
        api = Api(http, web_process.url, token)
        dataset = await api.upload_dataset(training_csv)
        job = await api.submit(dataset, QUICK_FIT)

        held = await asyncio.to_thread(proxy.held.wait, 120)
        assert held, f"the worker never started writing its model:\n{doomed.tail()}"
        assert await _versions(database_url) == []
        os.killpg(doomed.pid, signal.SIGKILL)  # the node dies in the middle of the upload
        deadline = time.monotonic() + 10
        while doomed.running:
            assert time.monotonic() < deadline, "the worker survived SIGKILL"
            await asyncio.sleep(0.02)
        proxy.release()

        assert await _versions(database_url) == [], "no version for the killed write"
        models = [k for k in bucket.object_keys() if k.startswith("mlw/uploads/models/")]
        assert models == [], f"no object under a model key after the kill: {models}"
        assert (await api.job(job["id"]))["status"] == "running"

        deployment.start_worker(MLW_DATA_DIR=str(tmp_path / "worker-2"), MLW_S3_ENDPOINT_URL=proxy.url)
        done = await api.wait_job(job["id"], within_s=150)
        assert done["status"] == "succeeded", done
        assert done["attempt"] == 2 and done["model_version"] == 1

        versions = await _versions(database_url)
        assert len(versions) == 1
        job_id, uri, sha256 = versions[0]
        assert job_id == job["id"] and uri == done["model_artifact_uri"]
        key = uri.removeprefix(f"s3://{bucket.bucket}/")
        assert key.endswith(".attempt2.joblib")
        body = bucket.client().get_object(Bucket=bucket.bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == sha256, "the version names a complete object"
        models = [k for k in bucket.object_keys() if k.startswith("mlw/uploads/models/")]
        assert sorted(models) == sorted([key, key.removesuffix(".joblib") + ".card.json"])
        deadline = time.monotonic() + TEMP_MAX_AGE_S + 30
        while (left := storage.temporary()) != []:
            assert time.monotonic() < deadline, f"temporary objects stay: {left} (earlier leftovers {leftovers})"
            await asyncio.sleep(0.25)
        downloaded = await http.get(f"{web_process.url}/ml-workflow/api/training-jobs/{job_id}/artifact",
                                    headers={"Authorization": f"Bearer {token}"})
        assert downloaded.status == 200 and await downloaded.read() == body
    finally:
        proxy.stop()
