"""Writing and reading joblib artifacts atomically, verified by sha256."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable
from typing import IO, Any

import joblib

from actors.errors import ArtifactError, ModelError

CHUNK = 1 << 20


def _fsync_dir(directory: str) -> None:
    with contextlib.suppress(OSError):  # some filesystems refuse directory fsync
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def save_artifact(obj: Any, path: str) -> str:
    """Write ``obj`` with joblib to ``path`` atomically and return the file's sha256.

    The bytes go to a temporary file in the same directory, are fsynced, then renamed
    over ``path``; on any failure (e.g. disk full) the temporary file is removed and
    ``path`` is left as it was.

    Raises:
        ArtifactError: the artifact could not be written.
    """
    return write_atomically(path, lambda handle: joblib.dump(obj, handle))


def save_bytes(data: bytes, path: str) -> str:
    """Write ``data`` to ``path`` atomically like :func:`save_artifact`; returns its sha256.

    Raises:
        ArtifactError: the file could not be written.
    """
    return write_atomically(path, lambda handle: handle.write(data))


def write_atomically(path: str, write: Callable[[IO[bytes]], object]) -> str:
    """Run ``write`` on a temporary file beside ``path``, fsync, rename it over ``path``; returns its sha256.

    Raises:
        ArtifactError: the file could not be written (the temporary file is removed).
        ModelError: raised by ``write`` itself (e.g. a stop at a checkpoint), unchanged.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ArtifactError(f"cannot create artifact in {directory}: {exc}", field="artifact.path") from exc
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "w+b") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
            handle.seek(0)
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        os.replace(temp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, Exception) and not isinstance(exc, ModelError):  # a stop or a data error stays itself
            raise ArtifactError(f"cannot write artifact {path}: {exc}", field="artifact.path") from exc
        raise
    _fsync_dir(directory)
    return digest.hexdigest()


def load_artifact(path: str, expected_sha256: str) -> Any:
    """Read an artifact after checking its sha256; nothing is unpickled on a mismatch.

    Raises:
        ArtifactError: missing file or sha256 mismatch.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - hashed then unpickled through the same handle
    except OSError as exc:
        raise ArtifactError(f"cannot open artifact {path}: {exc.strerror or exc}", field="artifact.path") from exc
    with handle:
        digest = hashlib.sha256()
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
        actual = digest.hexdigest()
        if actual != expected_sha256.lower():
            raise ArtifactError("artifact sha256 mismatch; refusing to load it", field="artifact.sha256",
                                details={"expected": expected_sha256, "actual": actual, "path": path})
        handle.seek(0)
        return joblib.load(handle)


OUTDATED = "artifact_outdated"
"""Error code of an artifact written before artifacts were portable: a pickled
``FittedPipeline`` of this project. The service refuses it (its classes moved, and loading
it would tie predictions to this project's code); retraining the node writes a portable one."""


def load_model(path: str, expected_sha256: str) -> Any:
    """The scikit-learn ``Pipeline`` of a model artifact, after checking its sha256.

    Raises:
        ArtifactError: missing file, sha256 mismatch, or (code ``artifact_outdated``) an
            artifact written by an earlier version of the service.
    """
    from sklearn.pipeline import Pipeline

    outdated = ("this model was stored by an earlier version of the service as a project-specific pickle; "
                "retrain the node to get a portable scikit-learn artifact")
    try:
        model = load_artifact(path, expected_sha256)
    except (ImportError, AttributeError) as exc:  # the pickle names classes this project no longer has
        raise ArtifactError(outdated, field="artifact", code=OUTDATED,
                            details={"reason": f"{type(exc).__name__}: {exc}"}) from exc
    if not isinstance(model, Pipeline):
        raise ArtifactError(outdated, field="artifact", code=OUTDATED,
                            details={"reason": f"the artifact holds a {type(model).__module__}.{type(model).__name__}"})
    return model
