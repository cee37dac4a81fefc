"""Ids with path traversal and SQL metacharacters, in every id-taking route, body and query parameter.

Each request is sent byte for byte as written (no client-side normalisation) next to alice's
real objects. It must get a 4xx JSON error with a message, leak none of alice's objects to
bob, and leave no row or file behind.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from aiohttp.test_utils import TestClient

from server.app import OPERATIONS
from store.settings import Settings
from tests.hostile.conftest import AliceObjects
from tests.hostile.footprint import footprint
from tests.hostile.rawhttp import RawResponse, raw_request
from tests.server.conftest import API, People, Person
from tests.server.seed import graph

HOSTILE_IDS = [
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252fetc%252fpasswd",
    "..\\..\\windows\\win.ini",
    "' OR 1=1 --",
    "\" OR \"\"=\"",
    "1; DROP TABLE users; --",
    "x' UNION SELECT token_sha256 FROM api_tokens --",
    "%00",
    "a%00b",
    "%",
    "*",
    "x" * 5000,
]
"""Raw path segments: sent verbatim where they are already escapes, percent-quoted otherwise."""

_ESCAPED = re.compile(r"%[0-9A-Fa-f]{2}")


def segment(value: str) -> str:
    """The value as it goes into the request target: escapes kept, everything else quoted."""
    if _ESCAPED.search(value) or value.startswith(".."):
        return value.replace(" ", "%20").replace("\\", "%5C")
    return quote(value, safe="")


def _targets(real: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(operation, method, target) for each path parameter of each operation and each hostile id."""
    out = []
    for op in OPERATIONS:
        for name in op.path_params:
            for bad in HOSTILE_IDS:
                path = op.full_path
                for other in op.path_params:
                    path = path.replace("{" + other + "}", segment(bad) if other == name else str(real[other]))
                out.append((f"{op.operation_id}:{name}", op.method, path))
    return out


def _real(alices: AliceObjects) -> dict[str, Any]:
    return {
        "job_id": alices.job_id,
        "pipeline_id": alices.pipeline_id,
        "node_id": alices.node_id,
        "version": alices.version,
        "alias": "champion",
        "dataset_id": alices.dataset_id,
    }


def assert_clear_4xx(resp: RawResponse, where: str) -> dict[str, Any]:
    assert 400 <= resp.status < 500, (where, resp.status, resp.body[:300])
    assert resp.headers.get("content-type", "").startswith("application/json"), (where, resp.headers)
    error: dict[str, Any] = resp.json()["error"]
    assert error["code"] and error["message"], (where, error)
    return error


async def _send(client: TestClient[Any, Any], who: Person, method: str, target: str, body: bytes = b"") -> RawResponse:
    headers = {**who.headers}
    if body:
        headers["Content-Type"] = "application/json"
    host, port = str(client.server.host), int(client.server.port or 0)
    return await raw_request(host, port, method, target, headers=headers, body=body)


async def test_hostile_ids_in_every_path_parameter_get_a_4xx_and_leave_nothing_behind(
    client: TestClient[Any, Any], people: People, settings: Settings, alices: AliceObjects
) -> None:
    before = await footprint(settings)
    for where, method, target in _targets(_real(alices)):
        for who in (people.alice, people.bob):
            assert_clear_4xx(await _send(client, who, method, target), f"{where} {target} as {who.name}")
    assert (await footprint(settings)).added_since(before) == {}


QUERIES = {
    f"{API}/training-jobs": ["pipeline_id", "node_id", "status", "model_type", "created_after", "order_by", "cursor"],
    f"{API}/users/me/training-jobs": ["pipeline_id", "node_id", "cursor", "limit"],
    f"{API}/datasets": ["cursor", "limit"],
    "{job}/events": ["since", "limit"],
    "{versions}": ["order_by", "limit"],
    "{versions}/compare": ["a", "b"],
    "{aliases}/active/history": ["cursor", "limit"],
}


async def test_hostile_values_in_every_query_parameter_get_a_4xx_or_match_nothing(
    client: TestClient[Any, Any], people: People, settings: Settings, alices: AliceObjects
) -> None:
    job = f"{API}/training-jobs/{alices.job_id}"
    versions = f"{API}/pipelines/{alices.pipeline_id}/nodes/{alices.node_id}/versions"
    aliases = f"{API}/pipelines/{alices.pipeline_id}/nodes/{alices.node_id}/aliases"
    before = await footprint(settings)
    for template, names in QUERIES.items():
        path = template.format(job=job, versions=versions, aliases=aliases)
        for name in names:
            for bad in HOSTILE_IDS:
                target = f"{path}?{name}={segment(bad)}"
                resp = await _send(client, people.alice, "GET", target)
                if resp.status == 200:
                    # A filter value is data, not SQL: it matches no row rather than every row.
                    assert resp.json()["items"] == [], (target, resp.body[:300])
                else:
                    assert_clear_4xx(resp, target)
    assert (await footprint(settings)).added_since(before) == {}


def _bodies(alices: AliceObjects, bad: str) -> list[tuple[str, str, dict[str, Any], str]]:
    """(method, path, body, the field holding ``bad``) for every id a JSON body carries."""
    g = graph(("train-1", "train-2"))
    return [
        ("POST", "/training-jobs", {"dataset_source_id": bad, "node_id": "train-1", "graph": g}, "dataset_source_id"),
        ("POST", "/training-jobs", {"dataset_source_id": alices.dataset_id, "node_id": bad, "graph": g}, "node_id"),
        ("PUT", "/pipelines", {"dataset_source_id": bad, "graph": g}, "dataset_source_id"),
        ("POST", f"/pipelines/{alices.pipeline_id}/nodes/train-1/aliases/champion", {"version": bad}, "version"),
    ]


async def test_hostile_ids_in_json_bodies_get_a_4xx_naming_the_field_and_leave_nothing_behind(
    client: TestClient[Any, Any], people: People, settings: Settings, alices: AliceObjects
) -> None:
    before = await footprint(settings)
    for bad in [*HOSTILE_IDS, "\x00", "job\x00id"]:
        for method, path, body, field in _bodies(alices, bad):
            resp = await client.request(method, f"{API}{path}", json=body, headers=people.bob.headers)
            text = await resp.text()
            assert 400 <= resp.status < 500, (path, field, bad[:40], resp.status, text[:300])
            error = (await resp.json())["error"]
            assert error["message"], error
            if resp.status == 422:
                assert field in error["details"].get("field", "") or field in error["message"], (field, error)
    assert (await footprint(settings)).added_since(before) == {}
