"""Schemathesis against the served OpenAPI document: no 5xx, every response conforms.

The app runs on a real port in a background thread (schemathesis sends requests
synchronously); the document is fetched from the server itself, with a token.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server.app import create_app
from server.redis_server import free_port
from store.settings import Settings, load_settings
from tests.server.conftest import API, Person, RecordingSender, _create_people
from tests.server.seed import IRIS_CSV, add_job, graph

MIN_CASES = 500
EXAMPLES_PER_OPERATION = 40
ADMIN_HEADERS = "admin_headers"
"""Key of ``real``: the headers admin-only operations (``/admin/...``) are fuzzed with, to reach their success paths."""


class ServedApp:
    """The application on 127.0.0.1:<port>, run by an event loop in its own thread."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(app, access_log=None)
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)

    async def _start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture
def served(
    tmp_path: Path, migrated_template: Path, redis_url: str
) -> Iterator[tuple[ServedApp, dict[str, str], dict[str, Any]]]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(migrated_template, data_dir / "mlw.db")
    cfg = load_settings(environ={}, overrides={"data": {"data_dir": str(data_dir)}, "redis": {"url": redis_url}})
    people = asyncio.run(_create_people(cfg))
    conn = redis.Redis.from_url(redis_url)
    conn.set("mlw:workers:fuzz", "{}", ex=600)  # /ready answers 200 as well as 503 during the run
    conn.close()
    server = ServedApp(create_app(cfg, sender=RecordingSender()))
    server.start()
    try:
        real = {**_seed(server.url, cfg, people.alice), ADMIN_HEADERS: people.admin.headers}
        yield server, people.alice.headers, real
    finally:
        server.stop()


def _seed(url: str, cfg: Settings, alice: Person) -> dict[str, Any]:
    """Real objects of alice's, so generated requests also reach the success paths."""
    files = {"file": ("iris.csv", IRIS_CSV.encode(), "text/csv")}
    resp = requests.post(f"{url}{API}/datasets", files=files, headers=alice.headers, timeout=10)
    dataset_id = resp.json()["id"]
    body = {"dataset_source_id": dataset_id, "graph": graph()}
    pipeline_id = requests.put(f"{url}{API}/pipelines", json=body, headers=alice.headers, timeout=10).json()[
        "pipeline"
    ]["pipeline_id"]
    job_id, _ = asyncio.run(
        add_job(cfg, alice, pipeline_id, "train-1", dataset_id, status="succeeded", metrics={"test": {"f1": 0.5}})
    )
    champion = f"{url}{API}/pipelines/{pipeline_id}/nodes/train-1/aliases/champion"
    requests.post(champion, json={"version": 1}, headers=alice.headers, timeout=10).raise_for_status()
    return {
        "job_id": job_id,
        "pipeline_id": pipeline_id,
        "node_id": "train-1",
        "version": 1,
        "alias": "champion",
        "dataset_id": dataset_id,
    }


def _use_real_ids(case: Any, real: dict[str, Any]) -> None:
    if case.path_parameters:
        case.path_parameters = {name: real[name] for name in case.path_parameters}
    if isinstance(case.query, dict) and {"a", "b"} <= set(case.query):
        case.query = {**case.query, "a": 1, "b": 1}
    if isinstance(case.body, dict) and "dataset_source_id" in case.body:
        case.body = {**case.body, "dataset_source_id": real["dataset_id"]}


def fuzz_document(url: str, auth: dict[str, str], real: dict[str, Any], examples: int) -> tuple[dict[str, int], int]:
    """Run schemathesis over every operation of the served document.

    Returns the generated calls per operation and the number of operations; each case
    is checked for no 5xx and for status, content type and body as documented.
    """
    document = requests.get(f"{url}{API}/openapi.json", headers=auth, timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    calls: dict[str, int] = {}
    session = requests.Session()

    def fuzz(operation: Any) -> None:
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), with_real_ids=st.booleans())
        def exercise(case: Any, with_real_ids: bool) -> None:
            calls[operation.label] = calls.get(operation.label, 0) + 1
            if with_real_ids:
                _use_real_ids(case, real)
            case.call_and_validate(base_url=url, session=session, headers=headers, checks=checks)

        admin_only = str(operation.path).startswith(f"{API}/admin/")
        headers = real.get(ADMIN_HEADERS, auth) if admin_only else auth
        exercise()

    # DELETEs last: a deleted real object would leave the other operations only their 404 paths.
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=lambda op: op.method == "delete")
    try:
        for operation in operations:
            fuzz(operation)
    finally:
        session.close()
    return calls, len(operations)


@pytest.mark.slow
def test_generated_requests_never_get_a_5xx_and_every_response_matches_the_document(
    served: tuple[ServedApp, dict[str, str], dict[str, Any]],
) -> None:
    server, auth, real = served
    calls, _ = fuzz_document(server.url, auth, real, EXAMPLES_PER_OPERATION)
    assert len(calls) == len(server.app.router.routes()) - sum(
        1 for r in server.app.router.routes() if r.method == "HEAD"
    )
    assert sum(calls.values()) >= MIN_CASES, calls
