"""The workers' sweep of temporary objects, on the data directory and on S3 (moto), with a real Redis.

What a killed writer leaves (a local ``.<name>.<random>.tmp`` file, an S3 ``<prefix>/_tmp/``
object) is removed once older than ``data.temp_max_age_s``, by one worker per
``data.temp_sweep_interval_s``; committed objects are never touched, and ``0`` turns it off.
The cutoff itself, and unfinished multipart uploads, are tested in ``tests/store/test_blobs.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from actors.jobs.temp_sweep import sweep_key, sweep_local, sweep_once
from store.blobs import Blobs, open_blobs
from store.blobs.local import LocalBlobStore
from store.blobs.s3 import S3BlobStore
from store.settings import Settings, load_settings
from tests.s3_fixtures import S3Root

MAX_AGE_S = 1.0


@pytest.fixture(params=["local", "s3"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """A deployment's settings with a one-second age limit; its store is the data directory or a bucket."""
    overrides: dict[str, dict[str, Any]] = {}
    if request.param == "s3":
        root: S3Root = request.getfixturevalue("s3_root")
        overrides = root.overrides()
    overrides.setdefault("data", {}).update(
        data_dir=str(tmp_path / "data"), temp_max_age_s=MAX_AGE_S, temp_sweep_interval_s=600.0
    )
    return load_settings({}, overrides=overrides, base_dir=tmp_path)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.Redis.from_url(redis_url)
    try:
        yield redis
    finally:
        await redis.aclose()


def _leave_temporary(blobs: Blobs, name: str) -> None:
    """What a writer killed before its commit leaves behind."""
    store = blobs.artifacts
    if isinstance(store, S3BlobStore):
        store.client.put_object(Bucket=store.bucket, Key=f"{store.prefix}/_tmp/{name}-m.joblib", Body=b"partial")
    else:
        assert isinstance(store, LocalBlobStore)
        (store.root / "uploads" / "models" / "p" / f".m.joblib.{name}.tmp").write_bytes(b"partial")


def _temporary(blobs: Blobs) -> list[str]:
    store = blobs.artifacts
    if isinstance(store, S3BlobStore):
        listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=f"{store.prefix}/_tmp/")
        return [item["Key"].rpartition("/")[2] for item in listed.get("Contents", [])]
    assert isinstance(store, LocalBlobStore)
    return [path.name for path in store.root.rglob(".*.tmp")]


async def test_one_worker_per_interval_removes_what_killed_writers_left_and_keeps_committed_objects(
    settings: Settings, client: aioredis.Redis
) -> None:
    blobs = open_blobs(settings)
    blobs.artifacts.put_bytes("uploads/models/p/kept.joblib", b"a model")
    _leave_temporary(blobs, "aaaaaaaa")
    await asyncio.sleep(MAX_AGE_S + 1.1)  # older than the limit (S3 dates objects to the second)

    removed = await sweep_once(settings, blobs, client, "worker-1")
    assert removed is not None and len(removed) == 1, removed
    assert _temporary(blobs) == []
    assert blobs.artifacts.list("") == ["uploads/models/p/kept.joblib"]
    assert blobs.artifacts.get_bytes("uploads/models/p/kept.joblib") == b"a model"

    _leave_temporary(blobs, "bbbbbbbb")
    await asyncio.sleep(MAX_AGE_S + 1.1)
    assert await sweep_once(settings, blobs, client, "worker-2") is None, "worker-1 swept within the interval"
    assert len(_temporary(blobs)) == 1
    assert await client.get(sweep_key(settings)) == b"worker-1"

    await client.delete(sweep_key(settings))  # the interval is over
    off = dataclasses.replace(settings, data=dataclasses.replace(settings.data, temp_max_age_s=0.0))
    assert await sweep_once(off, blobs, client, "worker-2") is None, "0 turns the sweep off"
    assert len(_temporary(blobs)) == 1
    removed = await sweep_once(settings, blobs, client, "worker-2")
    assert removed is not None and len(removed) == 1 and _temporary(blobs) == []


def test_the_once_per_interval_key_belongs_to_the_stores_so_deployments_sharing_a_redis_do_not_block_each_other(
    tmp_path: Path,
) -> None:
    def deployment(data_dir: str, artifacts: str = "") -> Settings:
        return load_settings({}, overrides={"data": {"data_dir": data_dir}, "artifacts": {"root": artifacts}},
                             base_dir=tmp_path)

    one = deployment(str(tmp_path / "one"))
    assert sweep_key(one) == sweep_key(deployment(str(tmp_path / "one")))
    assert sweep_key(one) != sweep_key(deployment(str(tmp_path / "two")))
    assert sweep_key(one) != sweep_key(deployment(str(tmp_path / "one"), "s3://bucket/models"))


async def test_each_worker_sweeps_its_machines_scratch_folder_without_the_deployments_key(
    settings: Settings, client: aioredis.Redis
) -> None:
    blobs = open_blobs(settings)
    blobs.scratch.mkdir(parents=True, exist_ok=True)
    left = blobs.scratch / "upload-killed.part"
    left.write_bytes(b"half an upload")
    await client.set(sweep_key(settings), "another-worker")  # another worker holds this interval's key
    await asyncio.sleep(MAX_AGE_S + 0.2)
    kept = blobs.scratch / "download-live-model.joblib"
    kept.write_bytes(b"being read")

    assert await sweep_local(settings, blobs) == ["upload-killed.part"]
    assert not left.exists() and kept.exists()
    off = dataclasses.replace(settings, data=dataclasses.replace(settings.data, temp_max_age_s=0.0))
    assert await sweep_local(off, blobs) is None
