"""Writing and reading joblib artifacts atomically, verified by sha256."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from typing import Any

import joblib

from actors.errors import ArtifactError

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
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ArtifactError(f"cannot create artifact in {directory}: {exc}", field="artifact.path") from exc
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "w+b") as handle:
            joblib.dump(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
            handle.seek(0)
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        os.replace(temp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, Exception):
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
