"""Writing and reading joblib artifacts through the storage interface, verified by sha256.

A model is streamed into :meth:`store.blobs.BlobStore.writer`: the bytes go to a
temporary name and are committed (a rename on disk, a copy on S3) only when the whole
file is written, so no version ever points at a partial object. Loading checks the
recorded sha256 before anything is unpickled.
"""

from __future__ import annotations

from typing import Any

import joblib

from actors.errors import ArtifactError
from store.blobs import BlobStore, StoredBlob
from store.errors import BlobError


def save_artifact(obj: Any, store: BlobStore, key: str) -> StoredBlob:
    """Write ``obj`` with joblib under ``key``, atomically; returns its URI and sha256.

    On any failure (disk full, storage down, an unpicklable object) nothing is committed
    and an object already under ``key`` is left as it was.

    Raises:
        ArtifactError: the artifact could not be written.
    """
    try:
        with store.writer(key) as out:
            joblib.dump(obj, out)
    except BlobError as exc:
        raise ArtifactError(f"cannot write artifact {key}: {exc.message}", field="artifact.path") from exc
    except Exception as exc:
        raise ArtifactError(f"cannot write artifact {key}: {exc}", field="artifact.path") from exc
    assert out.result is not None
    return out.result


def load_artifact(store: BlobStore, uri: str, expected_sha256: str) -> Any:
    """Read the artifact a row recorded after checking its sha256; nothing is unpickled on a mismatch.

    Raises:
        ArtifactError: outside the storage root, missing, or sha256 mismatch.
    """
    try:
        key = store.key(uri)
        with store.local_file(key, sha256=expected_sha256) as path, path.open("rb") as handle:
            return joblib.load(handle)
    except BlobError as exc:
        field = "artifact.sha256" if exc.code == "blob_corrupt" else "artifact.path"
        message = "artifact sha256 mismatch; refusing to load it" if exc.code == "blob_corrupt" else exc.message
        details = {"uri": uri, "expected": expected_sha256, "reason": exc.code}
        raise ArtifactError(message, field=field, details=details) from exc
