"""The several-machine deployment, as far as one machine allows (README "Deploying on several machines").

Two web processes (``mlw serve --no-worker`` on two ports) and two ``mlw worker`` processes
share one PostgreSQL database and one Redis, and either one data directory (the shared
filesystem) or nothing at all: with object storage every process has its own data
directory and datasets, models and model cards live in an S3 bucket (a moto server).
Jobs are submitted through both web processes and followed over websockets on both.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from pathlib import Path

import aiohttp
import psutil  # type: ignore[import-untyped]
import pytest

from server.redis_server import EmbeddedRedis
from tests.e2e.clients import Api, workers_of
from tests.e2e.conftest import DeploymentFactory, SocketFactory, WebProcess
from tests.e2e.processes import ManagedProcess
from tests.job_fixtures import graph_for
from tests.s3_fixtures import S3Root, make_bucket

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(240)]

FIT = graph_for("random_forest", hyperparameters={"n_estimators": 60, "max_depth": 10})
JOBS = 4


@dataclasses.dataclass(frozen=True)
class Cluster:
    webs: tuple[WebProcess, WebProcess]
    workers: tuple[ManagedProcess, ManagedProcess]
    token: str
    database_url: str
    shared: Path
    bucket: S3Root | None


@pytest.fixture(params=["shared_filesystem", "object_storage"])
def cluster(
    request: pytest.FixtureRequest, postgres_migrated_database_url: str, own_redis: EmbeddedRedis,
    new_deployment: DeploymentFactory, tmp_path: Path,
) -> Cluster:
    """Two web processes and two workers on one PostgreSQL database, one Redis and one shared
    folder, or (object storage) one bucket and a data directory of their own each."""
    shared = tmp_path / "shared"
    settings = {"MLW_DATABASE_URL": postgres_migrated_database_url, "MLW_REDIS_URL": own_redis.url}
    bucket: S3Root | None = None
    if request.param == "object_storage":
        bucket = make_bucket(request.getfixturevalue("moto_endpoint"))
        settings.update(bucket.env(), MLW_DATA_DIR=str(tmp_path / "cli"))
    else:
        settings.update(MLW_DATA_DIR=str(shared / "data"), MLW_ARTIFACTS_ROOT=str(shared / "artifacts"))
    deployment = new_deployment(settings)
    token = deployment.create_user("alice")

    def own(name: str) -> dict[str, str]:  # no path in common between the processes
        return {"MLW_DATA_DIR": str(tmp_path / name)} if bucket else {}

    webs = (deployment.start_web(**own("web-1")), deployment.start_web(**own("web-2")))
    workers = (deployment.start_worker(**own("worker-1")), deployment.start_worker(**own("worker-2")))
    for worker in workers:
        worker.wait_for_line("shim worker ready")
    for web in webs:
        web.wait_serving()
        web.wait_ready()
    return Cluster(webs, workers, token, postgres_migrated_database_url, shared, bucket)


async def test_two_web_processes_and_two_workers_on_one_redis_and_postgres_run_every_job_once(
    cluster: Cluster, http: aiohttp.ClientSession, open_socket: SocketFactory, training_csv: Path
) -> None:
    apis = [Api(http, web.url, cluster.token) for web in cluster.webs]
    dataset = await apis[0].upload_dataset(training_csv)  # stored on the shared filesystem by web 1
    pipeline_id = await apis[1].save_pipeline(dataset, FIT)  # saved through web 2
    sockets = [await open_socket(web.url, cluster.token) for web in cluster.webs]
    for sock in sockets:
        await sock.subscribe([{"pipeline_id": pipeline_id}])

    submitted = await asyncio.gather(*(apis[i % 2].submit(dataset, FIT) for i in range(JOBS)))
    job_ids = [job["id"] for job in submitted]
    assert {job["pipeline_id"] for job in submitted} == {pipeline_id}
    for job_id in job_ids:
        for sock in sockets:
            assert (await sock.wait_status(job_id, within_s=120))["status"] == "succeeded"
    for index, sock in enumerate(sockets):
        await sock.sync(f"done-{index}")

    for job_id in job_ids:
        trail = await apis[0].events(job_id)
        assert [e["seq"] for e in trail] == list(range(1, len(trail) + 1))
        assert trail == await apis[1].events(job_id), "both web processes read the same database"
        for sock in sockets:
            assert sock.persisted(job_id) == trail, "each socket saw every event of every job once, in order"

    versions = await apis[1].versions(pipeline_id)
    assert sorted(v["version"] for v in versions) == list(range(1, JOBS + 1)), "gap-free versions"
    assert sorted(v["job_id"] for v in versions) == sorted(job_ids)
    jobs = [await apis[i % 2].job(job_id) for i, job_id in enumerate(job_ids)]
    assert sorted(job["model_version"] for job in jobs) == list(range(1, JOBS + 1))
    by_job = {v["job_id"]: v for v in versions}
    if cluster.bucket is None:
        artifacts = cluster.shared / "artifacts"
        for job in jobs:
            assert (artifacts / job["model_artifact_uri"]).is_file(), "written under the shared artifacts.root"
    else:
        stored = set(cluster.bucket.object_keys())
        for index, job in enumerate(jobs):
            key = job["model_artifact_uri"].removeprefix(f"s3://{cluster.bucket.bucket}/")
            assert key in stored, "written by a worker into the bucket"
            body, recorded = await apis[(index + 1) % 2].artifact(job["id"])  # through either web process
            assert hashlib.sha256(body).hexdigest() == recorded == by_job[job["id"]]["artifact_sha256"]
        assert not cluster.shared.exists(), "no shared directory at all"
        assert not [k for k in stored if "/_tmp/" in k]

    # Who ran what: the jobs' `worker` column names the pool child; its parent is an `mlw worker`.
    ran_by = await workers_of(cluster.database_url)
    assert sorted(ran_by) == sorted(job_ids)
    parents = {psutil.Process(int(name.rsplit(":", 1)[1])).ppid() for name in ran_by.values()}
    assert parents == {worker.pid for worker in cluster.workers}, ran_by
