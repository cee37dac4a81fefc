"""The local-directory backend: the default of ``mlw serve``, and a shared filesystem's.

Rows record keys relative to the root (``datasets/<id>.parquet``), as they always have; an
absolute path or a ``file://`` URI is accepted when it lies inside the root. A write goes
to a hidden temporary file beside its target, is fsynced, and renamed over it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

from store.blobs.base import CHUNK_BYTES, BlobStore, BlobWriter, StoredBlob, check_key, verify
from store.errors import BlobError

_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
"""A writer's temporary file: ``.<name>.<8 random characters>.tmp`` (``tempfile.mkstemp``) beside its target."""


class _FileWriter(BlobWriter):
    def __init__(self, handle: IO[bytes]) -> None:
        super().__init__()
        self.handle = handle

    def _emit(self, data: memoryview) -> None:
        self.handle.write(data)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems refuse a directory fsync
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class LocalBlobStore(BlobStore):
    """Objects as files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root_uri = self.root.as_uri()

    def path(self, key: str) -> Path:
        """The file of ``key``."""
        return self.root / check_key(key)

    def uri(self, key: str) -> str:
        return check_key(key)

    def key(self, uri: str) -> str:
        raw = Path(uri.removeprefix("file://"))
        if not raw.is_absolute():
            return check_key(raw.as_posix())
        resolved = raw.resolve()
        if not resolved.is_relative_to(self.root):
            raise BlobError(f"{uri!r} lies outside the storage root {self.root}", code="blob_outside_root", key=uri)
        return check_key(resolved.relative_to(self.root).as_posix())

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[BlobWriter]:
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as exc:
            raise BlobError(f"cannot write {key!r}: {exc}", code="blob_unavailable", key=key) from exc
        try:
            with os.fdopen(fd, "wb") as handle:
                out = _FileWriter(handle)
                yield out
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        _fsync_dir(target.parent)
        out.result = StoredBlob(key, self.uri(key), out.size, out.sha256)

    def chunks(self, key: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        try:
            handle = self.path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise BlobError(f"no stored object {key!r}", code="blob_missing", key=key) from None
        return _read_all(handle, chunk_bytes)

    @contextlib.contextmanager
    def local_file(self, key: str, *, sha256: str | None = None) -> Iterator[Path]:
        path = self.path(key)
        if not path.is_file():
            raise BlobError(f"no stored object {key!r}", code="blob_missing", key=key)
        if sha256:
            digest = hashlib.sha256()
            for chunk in self.chunks(key):
                digest.update(chunk)
            verify(key, digest.hexdigest(), sha256)
        yield path

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> bool:
        path = self.path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # only when empty
        return True

    def sweep_temporary(self, older_than: datetime) -> list[str]:
        cutoff = older_than.timestamp()
        removed = []
        for path in self.root.rglob(".*.tmp"):
            with contextlib.suppress(OSError):  # gone meanwhile, or not ours to remove
                if _TEMP_NAME.match(path.name) and path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed.append(path.relative_to(self.root).as_posix())
        return sorted(removed)

    def list(self, prefix: str) -> list[str]:
        folder = prefix.rpartition("/")[0]
        base = self.path(folder) if folder else self.root
        if not base.is_dir():
            return []
        keys = []
        for path in base.rglob("*"):
            name = path.relative_to(self.root).as_posix()
            if path.is_file() and name.startswith(prefix) and not path.name.startswith("."):
                keys.append(name)
        return sorted(keys)


def _read_all(handle: IO[bytes], chunk_bytes: int) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(chunk_bytes):
            yield chunk
