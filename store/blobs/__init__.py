"""Object storage for uploaded datasets, model artifacts, model cards and reports.

One interface (:class:`BlobStore`), two backends: a local directory (the default of
``mlw serve``) and S3-compatible object storage, chosen by the ``data.root`` and
``artifacts.root`` settings (a path, or ``s3://bucket/prefix``). Usage::

    blobs = open_blobs(settings)                  # once per process
    with blobs.artifacts.writer(key) as out:      # temporary name, committed on success
        joblib.dump(model, out)
    stored = out.result                           # key, uri, size, sha256
    key = blobs.artifacts.key(row.artifact_uri)   # refuses a URI outside the root
    with blobs.artifacts.local_file(key, sha256=row.artifact_sha256) as path: ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from store.blobs.base import BlobStore, BlobWriter, StoredBlob, check_key
from store.blobs.local import LocalBlobStore
from store.settings import Settings

__all__ = [
    "DATASETS_PREFIX", "MODELS_PREFIX",
    "BlobStore", "BlobWriter", "Blobs", "LocalBlobStore", "StoredBlob", "check_key", "open_blobs", "open_root",
]

DATASETS_PREFIX = "datasets/"
MODELS_PREFIX = "uploads/models/"
SCRATCH_SUBDIR = "scratch"
"""Under each process's own data directory: downloads and spooled uploads (never shared)."""


@dataclass(frozen=True)
class Blobs:
    """The two roots a process uses.

    Attributes:
        data: Uploaded datasets (``data.root``).
        artifacts: Models, model cards and reports (``artifacts.root``).
        scratch: This process's local directory for temporary files.
        presign_expiry_s: Lifetime of presigned download URLs.
    """

    data: BlobStore
    artifacts: BlobStore
    scratch: Path
    presign_expiry_s: int = 300


def open_root(url: str, settings: Settings) -> BlobStore:
    """The store of one root: a path or an ``s3://bucket/prefix`` URL."""
    scratch = settings.data_dir / SCRATCH_SUBDIR
    if url.startswith("s3://"):
        from store.blobs.s3 import S3BlobStore, S3Options  # boto3 loads only where S3 is used

        s3 = settings.s3
        options = S3Options(
            endpoint_url=s3.endpoint_url, region=s3.region, access_key_id=s3.access_key_id,
            secret_access_key=s3.secret_access_key, session_token=s3.session_token,
            addressing_style=s3.addressing_style, part_bytes=s3.part_size_mb * 1024 * 1024,
            presigned_downloads=s3.presigned_downloads,
        )
        return S3BlobStore(url, options, scratch)
    return LocalBlobStore(Path(url))


def open_blobs(settings: Settings) -> Blobs:
    """The stores of ``data.root`` and ``artifacts.root`` (nothing is contacted yet)."""
    data = open_root(settings.data_root, settings)
    artifacts = data if settings.artifacts_url == settings.data_root else open_root(settings.artifacts_url, settings)
    return Blobs(data, artifacts, settings.data_dir / SCRATCH_SUBDIR, settings.s3.presign_expiry_s)
