"""Dataset upload (CSV, Parquet), listing, detail with preview, and their errors."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pandas as pd
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from store.settings import Settings
from tests.server.conftest import API, People
from tests.server.seed import IRIS_CSV, upload_csv


def _form(data: bytes, filename: str = "data.csv", content_type: str = "text/csv", **fields: str) -> FormData:
    form = FormData()
    for key, value in fields.items():
        form.add_field(key, value)
    form.add_field("file", data, filename=filename, content_type=content_type)
    return form


async def test_a_csv_upload_answers_201_with_its_schema_and_sha256(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    resp = await client.post(
        f"{API}/datasets", data=_form(IRIS_CSV.encode(), name="iris"), headers=people.alice.headers
    )
    assert resp.status == 201
    body = await resp.json()
    assert body["name"] == "iris"
    assert body["n_rows"] == 40
    assert body["columns"] == [
        {"name": "sepal", "dtype": "float64"},
        {"name": "petal", "dtype": "float64"},
        {"name": "label", "dtype": "object"},
    ]
    assert body["sha256"] == hashlib.sha256(IRIS_CSV.encode()).hexdigest()
    stored = pd.read_parquet(settings.data_dir / "datasets" / f"{body['id']}.parquet")
    pd.testing.assert_frame_equal(stored, pd.read_csv(io.StringIO(IRIS_CSV), float_precision="round_trip"))


async def test_a_parquet_upload_is_recognised_and_previewed(client: TestClient[Any, Any], people: People) -> None:
    frame = pd.DataFrame(
        {"x": [1, 2, 3], "when": pd.to_datetime(["2024-01-01", "2024-01-02", None]), "y": [0.5, None, 2]}
    )
    buf = io.BytesIO()
    frame.to_parquet(buf)
    form = _form(buf.getvalue(), filename="table.bin", content_type="application/octet-stream")
    resp = await client.post(f"{API}/datasets", data=form, headers=people.alice.headers)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["name"] == "table.bin"
    assert {c["name"]: c["dtype"] for c in created["columns"]}["x"] == "int64"

    resp = await client.get(f"{API}/datasets/{created['id']}", headers=people.alice.headers)
    assert resp.status == 200
    detail = await resp.json()
    assert detail["format"] == "parquet"
    assert detail["preview"][1]["y"] is None
    assert detail["preview"][2]["when"] is None
    assert detail["preview"][0]["when"].startswith("2024-01-01")


async def test_the_preview_holds_the_first_twenty_rows(client: TestClient[Any, Any], people: People) -> None:
    dataset_id = await upload_csv(client, people.alice)
    resp = await client.get(f"{API}/datasets/{dataset_id}", headers=people.alice.headers)
    detail = await resp.json()
    assert len(detail["preview"]) == 20
    assert detail["preview"][3] == {"sepal": 0.3, "petal": 0.9, "label": "b"}


async def test_a_malformed_csv_is_422_with_its_line(client: TestClient[Any, Any], people: People) -> None:
    text = b"a,b\n1,2\n3,4\n5,6,7\n"
    resp = await client.post(f"{API}/datasets", data=_form(text), headers=people.alice.headers)
    assert resp.status == 422
    error = (await resp.json())["error"]
    assert error["code"] == "parse_error"
    assert error["details"]["line"] == 4
    assert error["details"]["field"] == "file"


async def test_a_duplicate_header_is_422_with_line_and_column(client: TestClient[Any, Any], people: People) -> None:
    resp = await client.post(f"{API}/datasets", data=_form(b"a,b,a\n1,2,3\n"), headers=people.alice.headers)
    assert resp.status == 422
    details = (await resp.json())["error"]["details"]
    assert (details["line"], details["column"]) == (1, 3)


async def test_empty_non_utf8_and_unknown_files_are_422(client: TestClient[Any, Any], people: People) -> None:
    cases = [
        (_form(b""), "empty_dataset"),
        (_form(b"name\n\xff\xfe\n"), "parse_error"),
        (_form(b"PK\x03\x04", filename="book.xlsx", content_type="application/vnd.ms-excel"), "unsupported_format"),
        (_form(b"not parquet at all", filename="t.parquet"), "parse_error"),
        (_form(b'a,"b\x00c\n1,2\n'), "parse_error"),
    ]
    for form, code in cases:
        resp = await client.post(f"{API}/datasets", data=form, headers=people.alice.headers)
        assert resp.status == 422, code
        assert (await resp.json())["error"]["code"] == code


async def test_a_form_without_a_file_or_with_unknown_fields_is_422(
    client: TestClient[Any, Any], people: People
) -> None:
    form = FormData(default_to_multipart=True)
    form.add_field("name", "x")
    form.add_field("other", "y")
    resp = await client.post(f"{API}/datasets", data=form, headers=people.alice.headers)
    assert resp.status == 422
    assert (await resp.json())["error"]["details"]["field"] == "other"

    only_name = FormData(default_to_multipart=True)
    only_name.add_field("name", "x")
    resp = await client.post(f"{API}/datasets", data=only_name, headers=people.alice.headers)
    assert resp.status == 422
    assert (await resp.json())["error"]["details"]["field"] == "file"


async def test_a_json_body_instead_of_a_form_is_400(client: TestClient[Any, Any], people: People) -> None:
    resp = await client.post(f"{API}/datasets", json={"file": "a,b"}, headers=people.alice.headers)
    assert resp.status == 400
    assert (await resp.json())["error"]["details"]["field"] == "file"


async def test_an_upload_over_the_limit_is_413_and_leaves_no_file(
    people: People, settings: Settings, aiohttp_client: Any, tmp_path: Path
) -> None:
    import dataclasses

    from server.app import create_app

    small = dataclasses.replace(settings, data=dataclasses.replace(settings.data, max_upload_mb=1))
    client = await aiohttp_client(create_app(small))
    big = io.BytesIO(b"a,b\n" + b"1,2\n" * 400_000)  # 1.6 MB
    form = FormData()
    form.add_field("file", big, filename="big.csv", content_type="text/csv")
    resp = await client.post(f"{API}/datasets", data=form, headers=people.alice.headers)
    assert resp.status == 413
    assert (await resp.json())["error"]["details"]["field"] == "file"
    leftovers = [p for p in (settings.data_dir / "datasets").rglob("*") if p.is_file()]
    assert leftovers == []


async def test_datasets_are_listed_newest_first_with_a_cursor(client: TestClient[Any, Any], people: People) -> None:
    ids = [await upload_csv(client, people.alice, name=f"d{i}") for i in range(5)]
    await upload_csv(client, people.bob, name="bobs")
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        resp = await client.get(f"{API}/datasets", params=params, headers=people.alice.headers)
        assert resp.status == 200
        page = await resp.json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))

    resp = await client.get(f"{API}/datasets", headers=people.admin.headers)
    assert len((await resp.json())["items"]) == 6


async def test_bad_listing_parameters_are_422_naming_the_field(client: TestClient[Any, Any], people: People) -> None:
    for params, field in (({"limit": "0"}, "limit"), ({"cursor": "zzz"}, "cursor"), ({"color": "red"}, "color")):
        resp = await client.get(f"{API}/datasets", params=params, headers=people.alice.headers)
        assert resp.status == 422, params
        assert (await resp.json())["error"]["details"]["field"] == field


async def test_an_unknown_dataset_is_404(client: TestClient[Any, Any], people: People) -> None:
    resp = await client.get(f"{API}/datasets/nope", headers=people.alice.headers)
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_found"


async def test_a_line_with_more_fields_than_the_header_is_422_naming_the_line(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    wide = b"a,b\n" + b",".join([b"1"] * 100_000) + b"\n3,4\n"
    resp = await client.post(f"{API}/datasets", data=_form(wide), headers=people.alice.headers)
    assert resp.status == 422, await resp.text()
    error = (await resp.json())["error"]
    assert error["code"] == "parse_error"
    assert error["details"]["line"] == 2
    assert error["details"]["field"] == "file"
    assert "100000 fields" in error["message"] and "header has 2" in error["message"]
    leftovers = [p for p in (settings.data_dir / "datasets").rglob("*") if p.is_file()]
    assert leftovers == []


async def test_a_line_with_fewer_fields_than_the_header_is_422_naming_the_line(
    client: TestClient[Any, Any], people: People
) -> None:
    text = b"a,b,c\n1,2,3\n4,5\n6,7,8\n"
    resp = await client.post(f"{API}/datasets", data=_form(text), headers=people.alice.headers)
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["error"]["details"]["line"] == 3


async def test_a_quoted_value_may_span_lines_and_an_unclosed_one_is_422(
    client: TestClient[Any, Any], people: People
) -> None:
    ok = await client.post(f"{API}/datasets", data=_form(b'a,b\n1,"two\nlines"\n3,x\n'), headers=people.alice.headers)
    assert ok.status == 201, await ok.text()
    assert (await ok.json())["n_rows"] == 2
    bad = await client.post(f"{API}/datasets", data=_form(b'a,b\n1,2\n3,"open\n5,6\n'), headers=people.alice.headers)
    assert bad.status == 422
    assert (await bad.json())["error"]["details"]["line"] == 3


async def test_the_detail_reads_the_stored_summary_without_parsing_the_file(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    stored = settings.data_dir / "datasets" / f"{dataset_id}.parquet"
    stored.write_bytes(b"no longer parquet")  # a parse would fail now; the summary was stored at upload

    resp = await client.get(f"{API}/datasets/{dataset_id}", headers=people.alice.headers)

    assert resp.status == 200
    detail = await resp.json()
    assert (detail["n_rows"], len(detail["preview"])) == (40, 20)
    assert detail["preview"][3] == {"sepal": 0.3, "petal": 0.9, "label": "b"}


async def test_the_upload_and_the_worker_infer_the_same_schema(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    from actors.ml.dataset import load_dataset
    from actors.ml.options import DatasetRef, FitOptions

    text = b"i,f,b,s,n,d,mixed\n1,1.5,True,x,,2024-01-01,1\n2,NA,false,,,2024-01-02,2.5\n,3,TRUE,z,,2024-01-03,3\n"
    resp = await client.post(f"{API}/datasets", data=_form(text), headers=people.alice.headers)
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    path = settings.data_dir / "datasets" / f"{created['id']}.parquet"
    loaded = load_dataset(DatasetRef(str(path), "parquet"), FitOptions())

    schema = [{"name": str(n), "dtype": str(t)} for n, t in loaded.frame.dtypes.items()]
    assert created["columns"] == schema
    assert [c["dtype"] for c in schema] == ["float64", "float64", "bool", "object", "float64", "object", "float64"]
