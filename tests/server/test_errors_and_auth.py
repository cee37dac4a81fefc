"""Bearer tokens, and errors that always leave as JSON with the right status."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from store.settings import Settings
from store.users import revoke_token
from tests.server.conftest import API, People
from tests.server.seed import writer

PROTECTED = [
    ("GET", "/training-jobs"),
    ("POST", "/training-jobs"),
    ("GET", "/training-jobs/x"),
    ("POST", "/training-jobs/x/cancel"),
    ("GET", "/training-jobs/x/events"),
    ("GET", "/training-jobs/x/artifact"),
    ("GET", "/users/me/training-jobs"),
    ("PUT", "/pipelines"),
    ("GET", "/pipelines/p"),
    ("GET", "/pipelines/p/nodes/n/versions"),
    ("GET", "/pipelines/p/nodes/n/versions/compare"),
    ("POST", "/pipelines/p/nodes/n/versions/1/promote"),
    ("POST", "/datasets"),
    ("GET", "/datasets"),
    ("GET", "/datasets/d"),
    ("GET", "/model-families"),
    ("GET", "/node-types"),
    ("GET", "/openapi.json"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_every_route_but_health_and_ready_needs_a_token(
    client: TestClient[Any, Any], method: str, path: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        resp = await client.request(method, API + path, headers=headers)
        assert resp.status == 401, (method, path, headers)
        assert resp.headers["WWW-Authenticate"] == "Bearer"
        assert (await resp.json())["error"]["code"] == "unauthorized"


async def test_a_revoked_token_is_401(client: TestClient[Any, Any], people: People, settings: Settings) -> None:
    assert (await client.get(f"{API}/datasets", headers=people.bob.headers)).status == 200
    async with writer(settings) as session:
        assert await revoke_token(session, people.bob.token)
    resp = await client.get(f"{API}/datasets", headers=people.bob.headers)
    assert resp.status == 401


async def test_an_unknown_route_is_a_json_404_even_without_a_token(client: TestClient[Any, Any]) -> None:
    for path in (f"{API}/nothing-here", "/elsewhere"):
        resp = await client.get(path)
        assert resp.status == 404
        assert resp.content_type == "application/json"
        assert (await resp.json())["error"]["code"] == "not_found"


async def test_a_wrong_method_is_a_json_405_with_allow(client: TestClient[Any, Any], people: People) -> None:
    resp = await client.delete(f"{API}/datasets", headers=people.alice.headers)
    assert resp.status == 405
    assert "GET" in resp.headers["Allow"]
    body = await resp.json()
    assert body["error"]["code"] == "method_not_allowed"
    assert "POST" in body["error"]["details"]["allowed"]


async def test_an_unexpected_failure_is_a_json_500_without_a_traceback(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    resp = await client.get(f"{API}/datasets", headers=people.alice.headers)
    assert resp.status == 200
    with sqlite3.connect(settings.data_dir / "mlw.db") as conn:  # a broken database the server did not expect
        conn.execute("DROP TABLE dataset_sources")
    resp = await client.get(f"{API}/datasets", headers=people.alice.headers)
    assert resp.status == 500
    text = await resp.text()
    assert "Traceback" not in text and "sqlite" not in text.lower()
    assert (await resp.json())["error"] == {
        "code": "internal_error",
        "message": "an unexpected error occurred",
        "details": {},
    }


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_a_body_that_is_not_in_its_declared_content_encoding_is_a_json_400(
    client: TestClient[Any, Any], people: People, coding: str
) -> None:
    headers = {**people.alice.headers, "Content-Encoding": coding, "Content-Type": "application/json"}
    for method, path in (("POST", "/training-jobs"), ("PUT", "/pipelines")):
        resp = await client.request(method, f"{API}{path}", data=b'{"a": 1}', headers=headers)
        assert resp.status == 400, await resp.text()
        error = (await resp.json())["error"]
        assert error["code"] == "bad_content_encoding"
        assert error["details"]["field"] == "Content-Encoding"


async def test_a_body_in_an_unknown_content_encoding_is_415_not_read_as_plain(
    client: TestClient[Any, Any], people: People
) -> None:
    headers = {**people.alice.headers, "Content-Encoding": "x-rot13", "Content-Type": "application/json"}
    resp = await client.put(f"{API}/pipelines", data=b"{}", headers=headers)
    assert resp.status == 415
    assert (await resp.json())["error"]["details"]["field"] == "Content-Encoding"


async def test_a_gzip_body_is_decoded(client: TestClient[Any, Any], people: People) -> None:
    import gzip

    headers = {**people.alice.headers, "Content-Encoding": "gzip", "Content-Type": "application/json"}
    resp = await client.put(f"{API}/pipelines", data=gzip.compress(b'{"extra": 1}'), headers=headers)
    assert resp.status == 422
    assert (await resp.json())["error"]["details"]["field"] == "dataset_source_id"


@pytest.mark.parametrize("path", ["/training-jobs/x/cancel", "/pipelines/p/nodes/n/versions/1/promote"])
async def test_actions_without_parameters_refuse_unknown_body_fields(
    client: TestClient[Any, Any], people: People, path: str
) -> None:
    resp = await client.post(f"{API}{path}", json={"force": True}, headers=people.alice.headers)
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["error"]["details"]["field"] == "force"


async def test_an_operation_without_a_body_refuses_a_body_with_fields_naming_them(
    client: TestClient[Any, Any], people: People
) -> None:
    # The parameters of DELETE /admin/tokens go in the query; a JSON body is not read as them.
    resp = await client.delete(f"{API}/admin/tokens", json={"user": "bob"}, headers=people.admin.headers)
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["error"]["details"]["field"] == "user"
    resp = await client.delete(f"{API}/admin/tokens?user=bob", json={}, headers=people.admin.headers)
    assert resp.status == 200, await resp.text()


async def test_an_upload_that_is_not_in_its_declared_content_encoding_is_a_json_400(
    client: TestClient[Any, Any], people: People
) -> None:
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.csv"\r\n\r\n'
        f"a,b\r\n1,2\r\n--{boundary}--\r\n"
    ).encode()
    headers = {
        **people.alice.headers,
        "Content-Encoding": "gzip",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    resp = await client.post(f"{API}/datasets", data=body, headers=headers)
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"]["code"] == "bad_content_encoding"
    listed = await (await client.get(f"{API}/datasets", headers=people.alice.headers)).json()
    assert listed["items"] == []
