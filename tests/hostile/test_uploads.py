"""Oversized and malformed uploads: binary junk, a wrong delimiter, 10,000 columns, a declared
size of 1 GB with a small body, truncated multipart bodies, NUL characters.

Each gets a 4xx naming the ``file`` (or ``name``) field, and no dataset row and no file
(temporary or final) is left in the data directory.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from store.settings import Settings
from tests.hostile.footprint import footprint, left_behind
from tests.hostile.rawhttp import RawResponse, raw_request
from tests.server.conftest import API, People, Person

BOUNDARY = "hostileBoundary7MA4YWxkTrZu0gW"


def multipart(content: bytes, *, filename: str = "data.csv", content_type: str = "text/csv", close: bool = True,
              name: str | None = None) -> bytes:
    """A multipart/form-data body with one ``file`` part; ``close=False`` leaves out the closing boundary."""
    parts = b""
    if name is not None:
        parts += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="name"\r\n\r\n').encode() + name.encode()
        parts += b"\r\n"
    parts += (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    parts += content
    if close:
        parts += f"\r\n--{BOUNDARY}--\r\n".encode()
    return parts


async def post_raw(client: TestClient[Any, Any], who: Person, body: bytes, **kwargs: Any) -> RawResponse:
    headers = {**who.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    host, port = str(client.server.host), int(client.server.port or 0)
    return await raw_request(host, port, "POST", f"{API}/datasets", headers=headers, body=body, **kwargs)


def assert_refused(resp: RawResponse, status: tuple[int, ...], field: str = "file") -> dict[str, Any]:
    assert resp.status in status, (resp.status, resp.body[:400])
    error: dict[str, Any] = resp.json()["error"]
    assert error["details"].get("field") == field, error
    assert error["message"], error
    return error


WIDE = ",".join(f"c{i}" for i in range(10_000)).encode() + b"\n" + b",".join([b"1"] * 10_000) + b"\n"

MALFORMED = {
    "binary junk named .csv": (os.urandom(64 * 1024), "data.csv", "text/csv"),
    "binary junk with the parquet magic": (b"PAR1" + os.urandom(4096), "data.parquet", "application/octet-stream"),
    "an executable": (b"\x7fELF\x02\x01\x01" + os.urandom(2048), "tool", "application/x-executable"),
    "a semicolon-separated file": (b"a;b;label\n1;2;x\n3;4;y\n", "data.csv", "text/csv"),
    "a tab-separated file named .csv": (b"a\tb\tlabel\n1\t2\tx\n3\t4\ty\n", "data.csv", "text/csv"),
    "10,000 columns": (WIDE, "wide.csv", "text/csv"),
    "a NUL in the header": (b"a\x00b,label\n1,x\n", "data.csv", "text/csv"),
    "a NUL in a cell": (b"a,label\n1,x\x00y\n", "data.csv", "text/csv"),
    "UTF-16 text": ("a,label\n1,x\n".encode("utf-16"), "data.csv", "text/csv"),
    "an HTML page": (b"<html><script>alert(1)</script></html>", "page.html", "text/html"),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
async def test_a_malformed_file_is_a_422_naming_the_file_and_leaves_nothing_behind(
    client: TestClient[Any, Any], people: People, settings: Settings, case: str
) -> None:
    content, filename, content_type = MALFORMED[case]
    before = await footprint(settings)

    resp = await post_raw(client, people.alice, multipart(content, filename=filename, content_type=content_type))

    assert_refused(resp, (422,))
    assert (await footprint(settings)).added_since(before) == {}


async def test_a_declared_size_of_1_gb_with_a_small_body_is_a_413_at_once(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    before = await footprint(settings)

    resp = await post_raw(client, people.alice, multipart(b"a,b\n1,2\n"), content_length=1024**3, wait_s=10)

    error = assert_refused(resp, (413,))
    assert "max_upload_mb" in error["message"]
    assert (await footprint(settings)).added_since(before) == {}


@pytest.mark.parametrize("how", ["no closing boundary", "cut mid-part"])
async def test_a_truncated_multipart_body_is_a_400_and_leaves_nothing_behind(
    client: TestClient[Any, Any], people: People, settings: Settings, how: str
) -> None:
    rows = b"a,label\n" + b"1,x\n" * 1000
    full = multipart(rows)
    body = multipart(rows, close=False) if how == "no closing boundary" else full[: len(full) // 2]
    before = await footprint(settings)

    resp = await post_raw(client, people.alice, body)

    assert_refused(resp, (400,))
    assert (await footprint(settings)).added_since(before) == {}


async def test_a_client_that_disconnects_mid_upload_leaves_nothing_behind(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    full = multipart(b"a,label\n" + b"1,x\n" * 200_000)
    before = await footprint(settings)
    head = (
        f"POST {API}/datasets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {people.alice.token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {len(full)}\r\n\r\n"
    ).encode()
    _reader, writer = await asyncio.open_connection(str(client.server.host), int(client.server.port or 0))
    writer.write(head + full[: len(full) // 2])
    await writer.drain()
    tmp_dir = settings.data_dir / "scratch"
    for _ in range(500):  # until the server streams the part to its temporary file
        if tmp_dir.exists() and any(tmp_dir.iterdir()):
            break
        await asyncio.sleep(0.02)
    assert any(tmp_dir.iterdir()), "the server never started writing the upload"
    writer.close()

    assert await left_behind(settings, before, wait_s=10) == {}


async def test_a_nul_in_the_dataset_name_is_a_422_naming_it(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    before = await footprint(settings)

    resp = await post_raw(client, people.alice, multipart(b"a,label\n1,x\n", name="evil\x00name"))

    assert_refused(resp, (422,), field="name")
    assert (await footprint(settings)).added_since(before) == {}


async def test_a_traversal_filename_is_only_a_display_name_and_the_file_is_stored_under_a_new_id(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    body = multipart(b"a,label\n1,x\n2,y\n", filename="../../../../tmp/evil.csv")

    resp = await post_raw(client, people.alice, body)

    assert resp.status == 201, resp.body
    created = resp.json()
    assert created["name"] == "evil.csv"
    stored = sorted(p.name for p in (settings.data_dir / "datasets").iterdir() if p.is_file())
    assert stored == [f"{created['id']}.parquet"]
    assert not (settings.data_dir.parent / "tmp" / "evil.csv").exists()
