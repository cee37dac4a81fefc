"""Writing and reading model artifacts through the storage interface, verified by sha256.

A model is streamed into :meth:`store.blobs.BlobStore.writer`: the bytes go to a
temporary name and are committed (a rename on disk, a copy on S3) only when the whole
file is written, so no version ever points at a partial object. Loading checks the
recorded sha256 before anything is unpickled.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import joblib

from actors.errors import ArtifactError
from store.blobs import BlobStore, LocalBlobStore, StoredBlob
from store.errors import BlobError


def save_artifact(obj: Any, store: BlobStore, key: str) -> StoredBlob:
    """Write ``obj`` with joblib under ``key``, atomically; returns its URI and sha256.

    On any failure (disk full, storage down, an unpicklable object) nothing is committed
    and an object already under ``key`` is left as it was.

    Raises:
        ArtifactError: the artifact could not be written.
    """
    return write_object(store, key, lambda out: joblib.dump(obj, out))


def save_bytes(data: bytes, store: BlobStore, key: str) -> StoredBlob:
    """Write ``data`` (a model card, a report) under ``key`` atomically like :func:`save_artifact`.

    Raises:
        ArtifactError: the object could not be written.
    """
    return write_object(store, key, lambda out: out.write(data))


def write_object(
    store: BlobStore,
    key: str,
    write: Callable[[IO[bytes]], object],
    *,
    what: str = "write artifact",
    failures: tuple[type[Exception], ...] = (Exception,),
) -> StoredBlob:
    """Stream ``write``'s bytes under ``key``, committed only once ``write`` returns.

    Args:
        store: Where the object goes.
        key: Its key in ``store``.
        write: Writes the whole object to the binary stream it is given.
        what: The failing action as the error message names it ("cannot <what> <key>").
        failures: The exceptions of ``write`` reported as :class:`ArtifactError`; any other
            (a cancellation raised from inside ``write``) passes through as it is.

    Raises:
        ArtifactError: the object could not be written; nothing was committed.
    """
    try:
        with store.writer(key) as out:
            write(out)  # type: ignore[arg-type]  # a BlobWriter is a binary stream
    except BlobError as exc:
        raise ArtifactError(f"cannot {what} {key}: {exc.message}", field="artifact.path") from exc
    except failures as exc:
        raise ArtifactError(f"cannot {what} {key}: {exc}", field="artifact.path") from exc
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


OUTDATED = "artifact_outdated"
"""Error code of an artifact written before artifacts were portable: a pickled
``FittedPipeline`` of this project. The service refuses it (its classes moved, and loading
it would tie predictions to this project's code); retraining the node writes a portable one."""


def load_model_file(path: str, expected_sha256: str) -> Any:
    """:func:`load_model` of a local file (one a worker fetched from storage)."""
    local = Path(path)
    return load_model(LocalBlobStore(local.parent), local.name, expected_sha256)


def load_model(store: BlobStore, uri: str, expected_sha256: str) -> Any:
    """The scikit-learn ``Pipeline`` of a model artifact, after checking its sha256.

    Raises:
        ArtifactError: missing file, sha256 mismatch, or (code ``artifact_outdated``) an
            artifact written by an earlier version of the service.
    """
    from sklearn.pipeline import Pipeline

    outdated = ("this model was stored by an earlier version of the service as a project-specific pickle; "
                "retrain the node to get a portable scikit-learn artifact")
    try:
        model = load_artifact(store, uri, expected_sha256)
    except (ImportError, AttributeError) as exc:  # the pickle names classes this project no longer has
        raise ArtifactError(outdated, field="artifact", code=OUTDATED,
                            details={"reason": f"{type(exc).__name__}: {exc}"}) from exc
    if not isinstance(model, Pipeline):
        raise ArtifactError(outdated, field="artifact", code=OUTDATED,
                            details={"reason": f"the artifact holds a {type(model).__module__}.{type(model).__name__}"})
    return model
