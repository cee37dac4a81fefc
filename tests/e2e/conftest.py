"""Fixtures of the end-to-end tests: whole deployments of real ``mlw`` processes.

- ``single_node``: one ``mlw serve`` exactly as a user runs it (SQLite, its embedded Redis,
  one worker beside it), with two users, for the whole module.
- ``new_deployment``: a function-scoped builder of several-process deployments on a Redis and
  a database the test chooses; every process it started is stopped afterwards.
- ``new_node``: a deployment of one web process and N workers on ``own_redis`` and SQLite, users created;
  datasets and models in ``storage`` (the data directory, or a bucket: ``tests.s3_fixtures``).
- ``own_redis``: an append-only :class:`EmbeddedRedis` the test may stop and restart.
- ``http`` / ``open_socket``: the test's HTTP session and authenticated websockets, closed afterwards.
- ``training_csv``: a synthetic classification CSV on which a random forest fits in seconds.

Each deployment runs on its own Redis (``mlw serve``'s embedded one or an
:class:`EmbeddedRedis`), never on the shared test Redis: a session-scoped ``mlw serve`` of
another test package may still consume the ``training`` queue there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path

import aiohttp
import numpy as np
import pandas as pd
import pytest

from server.redis_server import EmbeddedRedis, free_port
from tests.e2e.clients import LiveSocket
from tests.e2e.processes import API, ManagedProcess, mlw, process_env, run_mlw, wait_http
from tests.s3_fixtures import Storage

ADMIN_BANNER = "a local admin was created"


@dataclasses.dataclass
class WebProcess:
    """A running web process and its base URL."""

    process: ManagedProcess
    url: str

    def wait_serving(self) -> None:
        """Wait until the process answers ``/health``."""
        self.process.wait_for_line("mlw is serving on")
        wait_http(self.process, f"{self.url}{API}/health")

    def wait_ready(self) -> None:
        """Wait until ``/ready`` says ready: database, Redis, a worker heartbeat and the hub."""
        wait_http(self.process, f"{self.url}{API}/ready")

    def admin_token(self) -> str | None:
        """The admin token printed on first start, if this process created the admin."""
        lines = self.process.lines
        for index, line in enumerate(lines):
            if ADMIN_BANNER in line and index + 1 < len(lines):
                return lines[index + 1].strip()
        return None


class Deployment:
    """Processes sharing one configuration: the same database, Redis and data directory.

    Args:
        settings: ``MLW_*`` variables every process gets (``MLW_DATABASE_URL``, ``MLW_REDIS_URL``, ...).
    """

    def __init__(self, settings: Mapping[str, str]) -> None:
        self.env = process_env(settings)
        self.processes: list[ManagedProcess] = []

    def create_user(self, name: str, *, admin: bool = False) -> str:
        """``mlw users create NAME``; returns the token it prints as its last line."""
        lines = run_mlw(self.env, "users", "create", name, *(["--admin"] if admin else []))
        return lines[-1].strip()

    def start_web(self, *, with_worker: bool = False, port: int | None = None, **settings: str) -> WebProcess:
        """Start ``mlw serve`` (``--no-worker`` unless ``with_worker``) on ``port`` or a free one; does not wait."""
        port = free_port() if port is None else port
        args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
        if not with_worker:
            args.append("--no-worker")
        process = self._start(f"web:{port}", mlw(*args), settings)
        return WebProcess(process, f"http://127.0.0.1:{port}")

    def start_worker(self, **settings: str) -> ManagedProcess:
        """Start ``mlw worker``; does not wait (see :meth:`ManagedProcess.wait_for_line`)."""
        return self._start(f"worker{len(self.processes)}", mlw("worker", "--loglevel", "info"), settings)

    def _start(self, name: str, argv: list[str], settings: Mapping[str, str]) -> ManagedProcess:
        process = ManagedProcess(name, argv, {**self.env, **settings})
        self.processes.append(process)
        return process.start()

    def stop(self) -> None:
        """Stop every process, workers and web processes alike; print their output for a failed test."""
        for process in reversed(self.processes):
            code = process.stop()
            print(f"--- {process.name} (exit {code}) ---\n{process.tail(80)}")


DeploymentFactory = Callable[[Mapping[str, str]], Deployment]


@dataclasses.dataclass(frozen=True)
class SingleNode:
    """A running ``mlw serve`` with its own worker and Redis, and two users' tokens."""

    web: WebProcess
    alice: str
    bob: str

    @property
    def url(self) -> str:
        return self.web.url


@pytest.fixture(scope="session")
def training_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8,000 x 12 classification rows (target ``target``): a 60-tree forest takes a few seconds."""
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=8_000, n_features=12, n_informative=8, flip_y=0.1, random_state=11)
    frame = pd.DataFrame(np.round(x, 5), columns=[f"f{i}" for i in range(12)])
    frame["target"] = y
    path = tmp_path_factory.mktemp("e2e-data") / "customers.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def new_deployment() -> Iterator[DeploymentFactory]:
    """Builds deployments (``new_deployment({...settings})``) and stops all their processes afterwards."""
    made: list[Deployment] = []

    def build(settings: Mapping[str, str]) -> Deployment:
        made.append(Deployment(settings))
        return made[-1]

    try:
        yield build
    finally:
        for built in made:
            built.stop()


@dataclasses.dataclass(frozen=True)
class Node:
    """A web process and ``mlw worker`` processes on one Redis and one SQLite database, with users' tokens."""

    deployment: Deployment
    web: WebProcess
    port: int
    workers: tuple[ManagedProcess, ...]
    tokens: dict[str, str]
    database_url: str
    storage: Storage


NodeFactory = Callable[..., Node]


@pytest.fixture
def new_node(own_redis: EmbeddedRedis, new_deployment: DeploymentFactory, storage: Storage) -> NodeFactory:
    """Builds ``mlw serve --no-worker`` and ``workers`` separate ``mlw worker``s on ``own_redis``.

    ``new_node(workers, users=("alice",), **settings)`` creates the users first (which applies
    the migrations), starts the web process on a free port and the workers, and returns once
    every worker is ready and ``/ready`` says so; everything is stopped after the test.
    """

    def build(workers: int, users: tuple[str, ...] = ("alice",), **settings: str) -> Node:
        database_url = f"sqlite+aiosqlite:///{storage.data_dir / 'mlw.db'}"
        deployment = new_deployment({"MLW_REDIS_URL": own_redis.url, "MLW_DATABASE_URL": database_url,
                                     **storage.env(), **settings})
        tokens = {name: deployment.create_user(name) for name in users}
        port = free_port()
        web = deployment.start_web(port=port)
        started = tuple(deployment.start_worker() for _ in range(workers))
        web.wait_serving()
        for worker in started:
            worker.wait_for_line("shim worker ready")
        web.wait_ready()
        return Node(deployment, web, port, started, tokens, database_url, storage)

    return build


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis server this test controls (it may stop and restart it); append-only, so data survives."""
    server = EmbeddedRedis(workdir=tmp_path / "redis", persist=True).start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def single_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SingleNode]:
    """``mlw serve`` as a user starts it: SQLite, embedded Redis, one worker (two children) beside it."""
    data_dir = tmp_path_factory.mktemp("single-node")
    node = Deployment({"MLW_DATA_DIR": str(data_dir), "MLW_WORKER_CONCURRENCY": "2"})
    try:
        web = node.start_web(with_worker=True)
        web.wait_serving()
        assert web.admin_token(), f"no admin token printed on first start:\n{web.process.tail()}"
        alice, bob = node.create_user("alice"), node.create_user("bob")
        web.process.wait_for_line("shim worker ready")
        web.wait_ready()
        yield SingleNode(web, alice, bob)
    finally:
        node.stop()
    assert web.process.left_behind == [], "mlw serve stops every process it started on SIGTERM"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP session for the test's REST and websocket clients."""
    async with aiohttp.ClientSession() as session:
        yield session


SocketFactory = Callable[[str, str], Awaitable[LiveSocket]]


@pytest.fixture
async def open_socket(http: aiohttp.ClientSession) -> AsyncIterator[SocketFactory]:
    """Opens authenticated sockets (``await open_socket(base_url, token)``); closes them after the test."""
    opened: list[LiveSocket] = []

    async def open_one(base_url: str, token: str) -> LiveSocket:
        opened.append(await LiveSocket.open(http, base_url, token))
        return opened[-1]

    try:
        yield open_one
    finally:
        for sock in opened:
            await sock.close()
