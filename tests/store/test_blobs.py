"""The storage interface, on both backends: a local directory and a real S3 server (moto)."""

from __future__ import annotations

import contextlib
import hashlib
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from store.blobs import BlobStore, LocalBlobStore, open_blobs, open_root
from store.blobs.s3 import S3BlobStore
from store.errors import BlobError
from store.settings import load_settings
from store.types import utcnow
from tests.s3_fixtures import S3Root


@pytest.fixture(params=["local", "s3"])
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "root")
    root: S3Root = request.getfixturevalue("s3_root")
    settings = load_settings({}, overrides=root.overrides(presigned=True), base_dir=tmp_path)
    return open_root(root.url, settings)


def test_a_written_object_reads_back_with_its_size_and_sha256(blob_store: BlobStore) -> None:
    data = b"x" * 1000 + b"end"
    with blob_store.writer("datasets/one.parquet") as out:
        out.write(data[:500])
        out.write(data[500:])
    assert out.result is not None
    assert out.result.size == len(data)
    assert out.result.sha256 == hashlib.sha256(data).hexdigest()
    assert blob_store.key(out.result.uri) == "datasets/one.parquet"
    assert b"".join(blob_store.chunks("datasets/one.parquet", 7)) == data
    assert blob_store.size("datasets/one.parquet") == len(data)
    assert blob_store.list("datasets/") == ["datasets/one.parquet"]


def _fail_while_writing(store: BlobStore, key: str, data: bytes) -> None:
    with store.writer(key) as out:
        out.write(data)
        raise RuntimeError("the process failed while writing")


def test_a_write_that_fails_midway_leaves_no_object_under_the_key(blob_store: BlobStore) -> None:
    with pytest.raises(RuntimeError):
        _fail_while_writing(blob_store, "uploads/models/p/j.joblib", b"half of a model")
    assert blob_store.size("uploads/models/p/j.joblib") is None
    assert blob_store.list("") == []


def test_a_failed_rewrite_keeps_the_previous_object(blob_store: BlobStore) -> None:
    blob_store.put_bytes("cards/a.json", b'{"v": 1}')
    with pytest.raises(RuntimeError):
        _fail_while_writing(blob_store, "cards/a.json", b'{"v": 2, "trunc')
    assert blob_store.get_bytes("cards/a.json") == b'{"v": 1}'


def test_an_object_larger_than_one_part_streams_in_parts(tmp_path: Path, s3_root: S3Root) -> None:
    overrides = s3_root.overrides()
    overrides["s3"]["part_size_mb"] = 5
    store = open_root(s3_root.url, load_settings({}, overrides=overrides, base_dir=tmp_path))
    block = bytes(range(256)) * 4096  # 1 MiB
    with store.writer("big.bin") as out:
        for _ in range(12):  # 12 MiB: three parts of at most 5 MiB
            out.write(block)
    assert out.result is not None and out.result.size == 12 * len(block)
    digest = hashlib.sha256()
    with store.local_file("big.bin", sha256=out.result.sha256) as path:
        digest.update(path.read_bytes())
    assert digest.hexdigest() == out.result.sha256
    assert s3_root.object_keys() == ["mlw/big.bin"]  # the temporary object is gone


def test_a_local_copy_with_the_wrong_sha256_is_refused(blob_store: BlobStore) -> None:
    blob_store.put_bytes("m.joblib", b"model bytes")
    with pytest.raises(BlobError) as caught, blob_store.local_file("m.joblib", sha256="0" * 64):
        pass
    assert caught.value.code == "blob_corrupt"


def test_a_missing_object_is_reported_as_missing(blob_store: BlobStore) -> None:
    with pytest.raises(BlobError) as caught:
        blob_store.chunks("nothing/here")
    assert caught.value.code == "blob_missing"
    assert blob_store.size("nothing/here") is None
    assert blob_store.delete("nothing/here") is False


def test_delete_removes_the_object(blob_store: BlobStore) -> None:
    blob_store.put_bytes("reports/r.json", b"{}")
    assert blob_store.delete("reports/r.json") is True
    assert blob_store.size("reports/r.json") is None


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a", "a\\b"])
def test_bad_keys_are_refused(blob_store: BlobStore, key: str) -> None:
    with pytest.raises(BlobError) as caught:
        blob_store.uri(key)
    assert caught.value.code == "blob_bad_key"


def test_a_uri_outside_the_root_is_refused(blob_store: BlobStore, tmp_path: Path) -> None:
    outside = "s3://another-bucket/x/y.joblib" if blob_store.root_uri.startswith("s3://") else str(tmp_path / "x")
    with pytest.raises(BlobError) as caught:
        blob_store.key(outside)
    assert caught.value.code == "blob_outside_root"


def test_presigned_urls_download_the_object_from_s3(tmp_path: Path, s3_root: S3Root) -> None:
    settings = load_settings({}, overrides=s3_root.overrides(presigned=True), base_dir=tmp_path)
    store = open_root(s3_root.url, settings)
    store.put_bytes("uploads/models/p/j.joblib", b"the model")
    url = store.presigned_url("uploads/models/p/j.joblib", expires_s=60, filename="j.joblib")
    assert url is not None and url.startswith(s3_root.endpoint)
    with urllib.request.urlopen(url) as answer:  # the test server on 127.0.0.1
        assert answer.read() == b"the model"
    assert LocalBlobStore(tmp_path).presigned_url("x", expires_s=60, filename="x") is None


def test_the_settings_choose_the_backend_of_each_root(tmp_path: Path, s3_root: S3Root) -> None:
    local = open_blobs(load_settings({}, overrides={"data": {"data_dir": "d"}}, base_dir=tmp_path))
    assert isinstance(local.data, LocalBlobStore) and local.artifacts is local.data
    assert local.data.root_uri == (tmp_path / "d").as_uri()
    split = open_blobs(load_settings({}, overrides={**s3_root.overrides(), "artifacts": {"root": "models"}},
                                     base_dir=tmp_path))
    assert split.data.root_uri == s3_root.url
    assert split.artifacts.root_uri == (tmp_path / "models").as_uri()


@contextlib.contextmanager
def _write_killed_midway(store: BlobStore, key: str, size: int) -> Iterator[None]:
    """A write as a killed process leaves it (started, ``size`` bytes sent, never finished) for the block."""
    writing = store.writer(key)
    writing.__enter__().write(b"x" * size)
    try:
        yield
    finally:
        writing.__exit__(RuntimeError, RuntimeError("killed"), None)


def _leftovers(store: BlobStore) -> list[str]:
    if isinstance(store, S3BlobStore):
        temp = f"{store.prefix}/_tmp/"
        objects = store.client.list_objects_v2(Bucket=store.bucket, Prefix=temp).get("Contents", [])
        uploads = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=temp).get("Uploads", [])
        return sorted([o["Key"] for o in objects] + [u["Key"] for u in uploads])
    assert isinstance(store, LocalBlobStore)
    return sorted(p.name for p in store.root.rglob(".*.tmp"))


def test_the_sweep_removes_what_unfinished_writes_left_once_older_than_the_cutoff_and_nothing_else(
    blob_store: BlobStore,
) -> None:
    blob_store.put_bytes("uploads/models/p/kept.joblib", b"a model")
    s3 = blob_store if isinstance(blob_store, S3BlobStore) else None
    # On S3 one part and a byte: the killed write is an unfinished multipart upload.
    size = s3.options.part_bytes + 1 if s3 else 100
    with _write_killed_midway(blob_store, "uploads/models/p/killed.joblib", size):
        if s3 is not None:  # killed between writing its temporary object and committing it
            s3.client.put_object(Bucket=s3.bucket, Key=f"{s3.prefix}/_tmp/0f-killed.card.json", Body=b"{}")
        left = _leftovers(blob_store)
        assert len(left) == (2 if s3 else 1), left

        assert blob_store.sweep_temporary(utcnow() - timedelta(hours=1)) == [], "newer than the cutoff: kept"
        assert _leftovers(blob_store) == left
        removed = blob_store.sweep_temporary(utcnow() + timedelta(minutes=1))
        assert len(removed) == len(left), removed
        assert _leftovers(blob_store) == []
        assert blob_store.sweep_temporary(utcnow() + timedelta(minutes=1)) == []

    assert blob_store.list("") == ["uploads/models/p/kept.joblib"]
    assert blob_store.get_bytes("uploads/models/p/kept.joblib") == b"a model"


def test_the_local_sweep_leaves_hidden_files_that_are_no_writer_s_alone(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "root")
    (tmp_path / "root" / "datasets").mkdir(parents=True)
    for name in (".keep.tmp", ".notes", "report.tmp"):
        (tmp_path / "root" / "datasets" / name).write_bytes(b"not a writer's")
    assert store.sweep_temporary(utcnow() + timedelta(minutes=1)) == []
    assert len(list((tmp_path / "root" / "datasets").iterdir())) == 3
