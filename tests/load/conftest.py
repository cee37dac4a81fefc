"""Fixtures of the load tests: one deployment of real ``mlw`` processes for the module.

``load_cluster`` is ``mlw serve --no-worker`` and two ``mlw worker --concurrency 1``
processes on SQLite and a private :class:`EmbeddedRedis`, with ten users. The open-file
limit is raised first, in this process, so the server (which inherits it) and the test's
own client can each hold a thousand websockets.
"""

from __future__ import annotations

import asyncio
import dataclasses
import resource
from collections.abc import Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from server.redis_server import EmbeddedRedis
from store.engine import create_engine, create_session_factory
from store.users import create_user
from tests.e2e.conftest import Deployment, WebProcess
from tests.e2e.processes import ManagedProcess
from tests.job_fixtures import breast_cancer_frame

USERS = 10
OPEN_FILES = 8192
"""Enough descriptors for 1,000 websockets on each side of loopback plus the database and Redis."""


@dataclasses.dataclass(frozen=True)
class LoadCluster:
    """A running deployment: one web process, two single-process workers, ten users' tokens."""

    web: WebProcess
    workers: tuple[ManagedProcess, ManagedProcess]
    tokens: tuple[str, ...]
    database_url: str

    @property
    def url(self) -> str:
        return self.web.url

    def web_rss(self) -> int:
        """Resident memory of the web process, in bytes."""
        return int(psutil.Process(self.web.process.pid).memory_info().rss)



def raise_open_file_limit(wanted: int = OPEN_FILES) -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` towards ``wanted`` (children inherit it); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < ceiling:
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def _create_users(database_url: str, count: int) -> tuple[str, ...]:
    engine = create_engine(database_url)
    try:
        tokens = []
        for index in range(count):
            async with create_session_factory(engine).begin() as session:
                _, token = await create_user(session, f"load-user-{index:02d}")
            tokens.append(token)
        return tuple(tokens)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def breast_cancer_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-learn's breast cancer data (569 x 30, target ``target``): a logistic regression fits in milliseconds."""
    frame = breast_cancer_frame().rename(columns=lambda name: str(name).replace(" ", "_"))
    path = tmp_path_factory.mktemp("load-data") / "breast_cancer.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def load_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A Redis server of this module alone."""
    server = EmbeddedRedis(workdir=tmp_path_factory.mktemp("load-redis")).start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def load_cluster(load_redis: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadCluster]:
    """``mlw serve --no-worker`` and two ``mlw worker`` processes (concurrency 1 each) with ten users."""
    assert raise_open_file_limit() >= 2500, "the load tests need a few thousand file descriptors"
    data_dir = tmp_path_factory.mktemp("load-node")
    database_url = f"sqlite+aiosqlite:///{data_dir / 'mlw.db'}"
    deployment = Deployment(
        {
            "MLW_DATABASE_URL": database_url,
            "MLW_REDIS_URL": load_redis.url,
            "MLW_DATA_DIR": str(data_dir),
            "MLW_JOBS_ONE_ACTIVE_PER_NODE": "false",
            "MLW_JOBS_MAX_ACTIVE_PER_USER": "50",
            "MLW_JOBS_HEARTBEAT_S": "1",
            "MLW_JOBS_PROGRESS_INTERVAL_S": "0.25",
            "MLW_WORKER_CONCURRENCY": "1",
        }
    )
    try:
        web = deployment.start_web()
        web.wait_serving()  # migrations applied: the workers and this process may open the database
        workers = (deployment.start_worker(), deployment.start_worker())
        tokens = asyncio.run(_create_users(database_url, USERS))
        for worker in workers:
            worker.wait_for_line("shim worker ready")
        web.wait_ready()
        yield LoadCluster(web, workers, tokens, database_url)
    finally:
        deployment.stop()
