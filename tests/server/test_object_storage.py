"""The web process on S3 object storage (a real moto server): upload, download, delete, quota, tenancy.

Every test here runs the app with ``data.root = s3://bucket/mlw`` and no shared directory:
datasets, models and model cards live in the bucket only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pandas as pd
import pytest
from aiohttp.test_utils import TestClient

from server.app import create_app
from store.settings import Settings, load_settings
from tests.s3_fixtures import S3Root
from tests.server.conftest import API, People, RecordingSender
from tests.server.seed import IRIS_CSV, add_job, graph, save_pipeline, upload_csv

# The tenancy matrix of tests/server/test_tenancy.py, run again here on object storage.
from tests.server.test_tenancy import (  # noqa: F401
    alices,
    test_another_user_gets_404_and_an_admin_reads_but_never_writes_on_every_route_with_an_id,
    test_the_owner_gets_through_on_every_route_with_an_id,
)


@pytest.fixture
def settings(tmp_path: Path, migrated_template: Path, redis_url: str, s3_root: S3Root) -> Settings:
    """The server tests' settings with every stored object in a fresh bucket."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(migrated_template, data_dir / "mlw.db")
    overrides: dict[str, Any] = {**s3_root.overrides(), "redis": {"url": redis_url}}
    overrides["data"] = {**overrides["data"], "data_dir": str(data_dir)}
    return load_settings(environ={}, overrides=overrides)


def _local_files(settings: Settings) -> list[str]:
    """Files under the data directory other than the database (what a second machine could not see)."""
    return sorted(str(p.relative_to(settings.data_dir)) for p in settings.data_dir.rglob("*")
                  if p.is_file() and not p.name.startswith("mlw.db"))


async def test_an_upload_is_stored_in_the_bucket_with_the_sha256_and_size_of_the_object(
    client: TestClient[Any, Any], people: People, settings: Settings, s3_root: S3Root
) -> None:
    dataset_id = await upload_csv(client, people.alice)

    key = f"mlw/datasets/{dataset_id}.parquet"
    assert s3_root.object_keys() == [key], "one committed object, no temporary one"
    body = s3_root.client().get_object(Bucket=s3_root.bucket, Key=key)["Body"].read()
    detail = await (await client.get(f"{API}/datasets/{dataset_id}", headers=people.alice.headers)).json()
    assert detail["n_rows"] == len(IRIS_CSV.strip().splitlines()) - 1
    assert detail["preview"] and set(detail["preview"][0]) == {c["name"] for c in detail["columns"]}
    stored = pd.read_parquet(io.BytesIO(body))
    assert list(stored.columns) == [c["name"] for c in detail["columns"]]
    from store.datasets import get_dataset
    from store.engine import create_engine, create_session_factory
    from store.reader import Reader

    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            row = await get_dataset(session, dataset_id, reader=Reader.system())
    finally:
        await engine.dispose()
    assert row.storage_uri == f"{s3_root.url}/datasets/{dataset_id}.parquet"
    assert row.storage_sha256 == hashlib.sha256(body).hexdigest()
    assert row.stored_bytes == len(body)
    assert _local_files(settings) == [], "nothing of the upload stays on the web host"


async def test_deleting_a_dataset_removes_its_object(
    client: TestClient[Any, Any], people: People, s3_root: S3Root
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    resp = await client.delete(f"{API}/datasets/{dataset_id}", headers=people.alice.headers)
    assert resp.status == 204
    assert s3_root.object_keys() == []


async def test_the_quota_counts_stored_objects_and_a_refused_upload_leaves_none(
    client: TestClient[Any, Any], people: People, settings: Settings, s3_root: S3Root, aiohttp_client: Any
) -> None:
    first = await upload_csv(client, people.alice)
    size = s3_root.client().head_object(Bucket=s3_root.bucket, Key=f"mlw/datasets/{first}.parquet")["ContentLength"]
    quota = dataclasses.replace(settings, data=dataclasses.replace(settings.data, max_bytes_per_user=size + size // 2))
    limited = await aiohttp_client(create_app(quota, sender=RecordingSender()))  # a second web process

    form = aiohttp.FormData()
    form.add_field("file", IRIS_CSV.encode(), filename="again.csv", content_type="text/csv")
    resp = await limited.post(f"{API}/datasets", data=form, headers=people.alice.headers)
    assert resp.status == 413
    error = (await resp.json())["error"]
    assert error["code"] == "storage_quota_exceeded" and error["details"]["used_bytes"] == size
    assert s3_root.object_keys() == [f"mlw/datasets/{first}.parquet"], "the refused upload left no object"
    assert await upload_csv(limited, people.bob)  # another user's quota is their own


async def test_a_model_and_its_card_download_through_the_web_process_for_the_owner_only(
    client: TestClient[Any, Any], people: People, settings: Settings, s3_root: S3Root
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    pipeline_id = await save_pipeline(client, people.alice, dataset_id, graph())
    done, _ = await add_job(settings, people.alice, pipeline_id, "train-1", dataset_id, status="succeeded")

    resp = await client.get(f"{API}/training-jobs/{done}/artifact", headers=people.alice.headers)
    assert resp.status == 200
    body = await resp.read()
    assert body == b"model-bytes-" + done.encode()
    assert resp.headers["X-Artifact-SHA256"] == hashlib.sha256(body).hexdigest()
    card = await client.get(f"{API}/training-jobs/{done}/model-card", headers=people.alice.headers)
    assert card.status == 200 and (await card.json())["artifact"]["sha256"] == hashlib.sha256(body).hexdigest()
    for path in (f"/training-jobs/{done}/artifact", f"/training-jobs/{done}/model-card"):
        assert (await client.get(API + path, headers=people.bob.headers)).status == 404
        assert (await client.get(API + path, headers=people.admin.headers)).status == 200

    s3_root.client().delete_object(Bucket=s3_root.bucket, Key=f"mlw/uploads/models/{pipeline_id}/{done}.joblib")
    resp = await client.get(f"{API}/training-jobs/{done}/artifact", headers=people.alice.headers)
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "artifact_missing"


async def test_a_corrupt_stored_model_is_never_served_whole(
    client: TestClient[Any, Any], people: People, settings: Settings, s3_root: S3Root
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    pipeline_id = await save_pipeline(client, people.alice, dataset_id, graph())
    done, _ = await add_job(settings, people.alice, pipeline_id, "train-1", dataset_id, status="succeeded")
    key = f"mlw/uploads/models/{pipeline_id}/{done}.joblib"
    s3_root.client().put_object(Bucket=s3_root.bucket, Key=key, Body=b"tampered-bytes-" + done.encode())

    resp = await client.get(f"{API}/training-jobs/{done}/artifact", headers=people.alice.headers)
    assert resp.status == 200  # the headers went out before the last bytes were checked
    with pytest.raises(aiohttp.ClientPayloadError):  # then the connection is cut short of the end
        await resp.read()


async def test_deleting_a_pipeline_removes_its_models_and_cards_from_the_bucket(
    client: TestClient[Any, Any], people: People, settings: Settings, s3_root: S3Root
) -> None:
    dataset_id = await upload_csv(client, people.alice)
    pipeline_id = await save_pipeline(client, people.alice, dataset_id, graph())
    await add_job(settings, people.alice, pipeline_id, "train-1", dataset_id, status="succeeded")
    assert any(k.startswith(f"mlw/uploads/models/{pipeline_id}/") for k in s3_root.object_keys())

    resp = await client.delete(f"{API}/pipelines/{pipeline_id}", headers=people.alice.headers)
    assert resp.status == 200 and (await resp.json())["artifacts_removed"] == 1
    assert s3_root.object_keys() == [f"mlw/datasets/{dataset_id}.parquet"]


@pytest.fixture
def presigned(settings: Settings) -> Settings:
    return dataclasses.replace(settings, s3=dataclasses.replace(settings.s3, presigned_downloads=True))


async def test_presigned_downloads_redirect_the_owner_to_a_short_lived_url_and_nobody_else(
    aiohttp_client: Any, presigned: Settings, people: People, s3_root: S3Root
) -> None:
    client = await aiohttp_client(create_app(presigned, sender=RecordingSender()))
    dataset_id = await upload_csv(client, people.alice)
    pipeline_id = await save_pipeline(client, people.alice, dataset_id, graph())
    done, _ = await add_job(presigned, people.alice, pipeline_id, "train-1", dataset_id, status="succeeded")

    resp = await client.get(f"{API}/training-jobs/{done}/artifact", headers=people.alice.headers,
                            allow_redirects=False)
    assert resp.status == 307
    location = resp.headers["Location"]
    assert location.startswith(s3_root.endpoint) and "X-Amz-Expires=300" in location
    async with aiohttp.ClientSession() as direct, direct.get(location) as answer:  # moto on 127.0.0.1
        assert await answer.read() == b"model-bytes-" + done.encode()
    bob = await client.get(f"{API}/training-jobs/{done}/artifact", headers=people.bob.headers,
                           allow_redirects=False)
    assert bob.status == 404 and "Location" not in bob.headers
