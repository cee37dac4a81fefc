"""``DELETE /datasets/{id}`` and the per-user storage quota ``data.max_bytes_per_user``."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient

from server.app import create_app
from store.settings import Settings
from tests.server.conftest import API, People, Person, RecordingSender
from tests.server.seed import IRIS_CSV, graph, save_pipeline, upload_csv


def _form(text: str) -> FormData:
    form = FormData()
    form.add_field("file", text.encode(), filename="data.csv", content_type="text/csv")
    return form


def _stored_files(settings: Settings) -> list[str]:
    return sorted(p.name for p in (settings.data_dir / "datasets").glob("*") if p.is_file())


async def _delete(client: TestClient[Any, Any], who: Person, dataset_id: str) -> tuple[int, dict[str, Any]]:
    resp = await client.delete(f"{API}/datasets/{dataset_id}", headers=who.headers)
    return resp.status, (await resp.json() if resp.status != 204 else {})


async def test_the_owner_deletes_a_dataset_and_its_stored_file(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    assert _stored_files(settings) == [f"{dataset_id}.parquet"]

    status, _ = await _delete(client, people.alice, dataset_id)

    assert status == 204
    assert _stored_files(settings) == []
    resp = await client.get(f"{API}/datasets/{dataset_id}", headers=people.alice.headers)
    assert resp.status == 404
    assert (await _delete(client, people.alice, dataset_id))[0] == 404


async def test_another_user_cannot_delete_a_dataset_and_sees_404(
    client: TestClient[Any, Any], people: People, settings: Settings
) -> None:
    dataset_id = await upload_csv(client, people.alice)

    status, body = await _delete(client, people.bob, dataset_id)

    assert status == 404
    assert body["error"]["code"] == "not_found"
    assert _stored_files(settings) == [f"{dataset_id}.parquet"]


async def test_a_dataset_with_a_queued_job_or_a_pipeline_is_refused_with_409_naming_them(
    client: TestClient[Any, Any], people: People, settings: Settings, sender: RecordingSender
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    body = {"dataset_source_id": dataset_id, "node_id": "train-1", "graph": graph()}
    resp = await client.post(f"{API}/training-jobs", json=body, headers=people.alice.headers)
    assert resp.status == 202
    job = await resp.json()

    status, refused = await _delete(client, people.alice, dataset_id)
    assert status == 409
    assert refused["error"]["code"] == "dataset_has_active_jobs"
    assert refused["error"]["details"]["job_ids"] == [job["id"]]

    resp = await client.post(f"{API}/training-jobs/{job['id']}/cancel", headers=people.alice.headers)
    assert resp.status == 202
    status, refused = await _delete(client, people.alice, dataset_id)
    assert status == 409
    assert refused["error"]["code"] == "dataset_in_use"
    assert refused["error"]["details"]["pipeline_ids"] == [job["pipeline_id"]]
    assert _stored_files(settings) == [f"{dataset_id}.parquet"]


async def test_a_dataset_only_saved_in_a_pipeline_is_refused_too(
    client: TestClient[Any, Any], people: People
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    pipeline_id = await save_pipeline(client, people.alice, dataset_id, graph())

    status, refused = await _delete(client, people.alice, dataset_id)

    assert status == 409
    assert pipeline_id in refused["error"]["details"]["pipeline_ids"]


async def test_uploads_beyond_the_storage_quota_are_413_until_a_dataset_is_deleted(
    people: People, settings: Settings, aiohttp_client: Any
) -> None:
    probe = await aiohttp_client(create_app(settings))
    one = await upload_csv(probe, people.bob)
    size = (settings.data_dir / "datasets" / f"{one}.parquet").stat().st_size
    await probe.close()
    quota = dataclasses.replace(settings, data=dataclasses.replace(settings.data, max_bytes_per_user=2 * size + 10))
    client = await aiohttp_client(create_app(quota))

    first = await upload_csv(client, people.alice)
    await upload_csv(client, people.alice)
    resp = await client.post(f"{API}/datasets", data=_form(IRIS_CSV), headers=people.alice.headers)

    assert resp.status == 413
    error = (await resp.json())["error"]
    assert error["code"] == "storage_quota_exceeded"
    assert "data.max_bytes_per_user" in error["message"]
    assert error["details"]["quota_bytes"] == 2 * size + 10
    assert error["details"]["used_bytes"] == 2 * size
    assert len(_stored_files(settings)) == 3  # bob's and alice's two: the refused one left nothing
    await upload_csv(client, people.bob)  # another user's quota is their own
    assert (await _delete(client, people.alice, first))[0] == 204
    await upload_csv(client, people.alice)
