"""Fixtures of the server tests: a migrated SQLite database, users, a running app."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.app import create_app
from store.engine import create_engine, create_session_factory
from store.migrate import upgrade
from store.settings import Settings, load_settings
from store.users import create_user

if TYPE_CHECKING:  # hub_helpers imports this module: the fixtures below import it when they run
    from server.hub import HubConfig
    from tests.server.hub_helpers import Jobs

API = "/ml-workflow/api"


@dataclasses.dataclass(frozen=True)
class Person:
    """A user of the API and the headers that authenticate them."""

    id: str
    name: str
    token: str
    is_admin: bool

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclasses.dataclass(frozen=True)
class People:
    alice: Person
    bob: Person
    admin: Person


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the newest revision, copied by each test (migrating is slow)."""
    path = tmp_path_factory.mktemp("template") / "mlw.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def settings(tmp_path: Path, migrated_template: Path, redis_url: str) -> Settings:
    """Settings for one test: its own data directory, database and Redis database."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(migrated_template, data_dir / "mlw.db")
    return load_settings(
        environ={},
        overrides={"data": {"data_dir": str(data_dir)}, "redis": {"url": redis_url}},
    )


async def _create_people(settings: Settings) -> People:
    engine = create_engine(settings.database_url)
    try:
        made: dict[str, Person] = {}
        async with create_session_factory(engine).begin() as session:
            for name, is_admin in (("alice", False), ("bob", False), ("admin", True)):
                user, token = await create_user(session, name, is_admin=is_admin)
                made[name] = Person(user.id, name, token, is_admin)
        return People(**made)
    finally:
        await engine.dispose()


@pytest.fixture
async def people(settings: Settings) -> People:
    """Two ordinary users and an admin, with their tokens."""
    return await _create_people(settings)


class RecordingSender:
    """An in-process message sender: records what would go to the broker, or fails on demand."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, float | None]] = []
        self.kinds: dict[str, str] = {}
        self.fail_with: Exception | None = None

    async def __call__(self, job_id: str, max_runtime_s: float | None = None, kind: str = "training") -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append((job_id, max_runtime_s))
        self.kinds[job_id] = kind
        return f"message-{len(self.sent)}"


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def app(settings: Settings, sender: RecordingSender) -> web.Application:
    return create_app(settings, sender=sender)


ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def client(app: web.Application, people: People, aiohttp_client: ClientFactory) -> TestClient[Any, Any]:
    """A test client of the running app (users exist before it starts)."""
    return await aiohttp_client(app)


@pytest.fixture
def hub_config() -> HubConfig:
    """The hub's configuration for ``hub_client``; a module overrides this fixture to test other limits."""
    from tests.server.hub_helpers import TEST_CONFIG

    return TEST_CONFIG


@pytest.fixture
async def hub_client(
    settings: Settings, people: People, aiohttp_client: ClientFactory, hub_config: HubConfig
) -> TestClient[Any, Any]:
    """The app with the hub, running, its Redis subscription up."""
    from server.hub import RedisState
    from tests.server.hub_helpers import hub_app, hub_of

    client = await aiohttp_client(hub_app(settings, hub_config))
    await hub_of(client).fanout.wait_for(RedisState.UP)
    return client


@pytest.fixture
async def jobs(settings: Settings, redis_url: str) -> AsyncIterator[Jobs]:
    """Writes jobs and their events as a worker would, published on the test Redis."""
    from tests.server.hub_helpers import jobs_writer

    async with jobs_writer(settings, redis_url) as writer:
        yield writer
