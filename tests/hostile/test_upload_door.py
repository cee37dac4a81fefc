"""Bad input at the upload door: a body announced as gzip that is not, a NUL in the file name."""

from __future__ import annotations

import gzip
import json
from typing import Any

from aiohttp.test_utils import TestClient

from store.settings import Settings
from tests.hostile.footprint import footprint
from tests.hostile.rawhttp import raw_request
from tests.hostile.test_uploads import BOUNDARY, multipart, post_raw
from tests.server.conftest import API, People


async def test_a_body_announced_as_gzip_that_is_not_is_a_400_on_uploads_and_submissions(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    host, port = str(client.server.host), int(client.server.port or 0)
    before = await footprint(settings)
    cases = [
        ("/datasets", f"multipart/form-data; boundary={BOUNDARY}", multipart(b"a,b\n1,2\n")),
        ("/training-jobs", "application/json", json.dumps({"node_id": "x"}).encode()),
        ("/pipelines", "application/json", b"\x1f\x8b\x08\x00garbage-after-the-magic"),
    ]
    for path, content_type, body in cases:
        method = "PUT" if path == "/pipelines" else "POST"
        headers = {**people.alice.headers, "Content-Type": content_type, "Content-Encoding": "gzip"}
        resp = await raw_request(host, port, method, f"{API}{path}", headers=headers, body=body)
        assert resp.status == 400, (path, resp.status, resp.body[:300])
        error = resp.json()["error"]
        assert error["code"] == "bad_content_encoding", error
        assert "gzip" in error["message"]
    assert (await footprint(settings)).added_since(before) == {}


async def test_a_real_gzip_body_is_still_accepted(client: TestClient[Any, Any], people: People) -> None:
    host, port = str(client.server.host), int(client.server.port or 0)
    headers = {**people.alice.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
               "Content-Encoding": "gzip"}

    resp = await raw_request(host, port, "POST", f"{API}/datasets", headers=headers,
                             body=gzip.compress(multipart(b"a,b\n1,2\n")))

    assert resp.status == 201, resp.body[:300]


async def test_a_nul_in_the_multipart_file_name_is_a_400_naming_the_file(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    before = await footprint(settings)

    resp = await post_raw(client, people.alice, multipart(b"a,b\n1,2\n", filename="evil\x00.csv"))

    assert resp.status == 400, resp.body[:300]
    error = resp.json()["error"]
    assert error["details"]["field"] == "file"
    assert "multipart" in error["message"]
    assert (await footprint(settings)).added_since(before) == {}

