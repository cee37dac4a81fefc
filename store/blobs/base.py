"""The storage interface: what every backend (local directory, S3) offers.

Keys are relative, ``/``-separated names such as ``datasets/<id>.parquet`` or
``uploads/models/<pipeline>/<job>.joblib``. Rows record :meth:`BlobStore.uri` of a key and
get the key back with :meth:`BlobStore.key`, which refuses a URI outside the store's root.
Every write goes to a temporary name first and is committed (rename, or copy on S3) only
when the whole object was written, so a reader never sees a partial object under a key.
The calls block; async code runs them in a thread.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from store.errors import BlobError

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class StoredBlob:
    """A committed object: its key, the URI rows record, its size and sha256."""

    key: str
    uri: str
    size: int
    sha256: str


def check_key(key: str) -> str:
    """``key`` when it is a relative name without ``..`` or empty parts.

    Raises:
        BlobError: code ``blob_bad_key``.
    """
    parts = key.split("/")
    if not key or "\\" in key or any(p in ("", "..", ".") for p in parts):
        raise BlobError(f"bad storage key {key!r}", code="blob_bad_key", key=key)
    return key


class BlobWriter(io.RawIOBase):
    """A write-only stream that hashes and counts what goes through it.

    :meth:`BlobStore.writer` yields one; after the ``with`` block :attr:`result` holds the
    committed object. Backends implement :meth:`_emit` (and finish in the store).
    """

    def __init__(self) -> None:
        super().__init__()
        self._digest = hashlib.sha256()
        self._size = 0
        self.result: StoredBlob | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        self._digest.update(view)
        self._size += len(view)
        self._emit(view)
        return len(view)

    def tell(self) -> int:
        return self._size

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._size

    @property
    def sha256(self) -> str:
        """Hex sha256 of the bytes written so far."""
        return self._digest.hexdigest()

    @abc.abstractmethod
    def _emit(self, data: memoryview) -> None:
        """Send ``data`` on to the backend."""


def verify(key: str, actual: str, expected: str | None) -> None:
    """Raise unless ``actual`` equals ``expected`` (no expectation passes).

    Raises:
        BlobError: code ``blob_corrupt``.
    """
    if expected and actual != expected.lower():
        raise BlobError(
            f"the stored object {key!r} does not have the recorded sha256 (expected {expected}, got {actual})",
            code="blob_corrupt",
            key=key,
        )


class BlobStore(abc.ABC):
    """One root of object storage (a local directory or an S3 bucket and prefix)."""

    root_uri: str
    """``file:///abs/dir`` or ``s3://bucket/prefix``: where this store's keys live."""
    presigns: bool = False
    """Whether :meth:`presigned_url` gives URLs (S3 with presigned downloads on)."""

    @abc.abstractmethod
    def uri(self, key: str) -> str:
        """What a row records for ``key``."""

    @abc.abstractmethod
    def key(self, uri: str) -> str:
        """The key of a URI a row recorded.

        Raises:
            BlobError: code ``blob_outside_root`` for a URI outside this store's root.
        """

    @abc.abstractmethod
    def writer(self, key: str) -> contextlib.AbstractContextManager[BlobWriter]:
        """A stream to write ``key``; committed when the block ends without an exception
        (then ``writer.result`` is set), discarded otherwise."""

    @abc.abstractmethod
    def chunks(self, key: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        """The object's bytes, streamed.

        Raises:
            BlobError: ``blob_missing`` (raised before the first chunk).
        """

    @abc.abstractmethod
    def local_file(self, key: str, *, sha256: str | None = None) -> contextlib.AbstractContextManager[Path]:
        """A local file with the object's bytes for the length of the block (the file itself
        for a local store, a verified download for a remote one).

        Raises:
            BlobError: ``blob_missing``, or ``blob_corrupt`` when ``sha256`` does not match.
        """

    @abc.abstractmethod
    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is none."""

    @abc.abstractmethod
    def delete(self, key: str) -> bool:
        """Remove the object; False when there was none."""

    @abc.abstractmethod
    def sweep_temporary(self, older_than: datetime) -> list[str]:
        """Remove what writes that never finished left behind (a temporary object, an unfinished
        multipart upload) when it was last written before ``older_than``; returns what went.

        A write in progress keeps what it writes fresh (a local file's mtime, an upload's latest
        part), so ``older_than`` need only lie further back than the longest pause of a writer.
        """

    @abc.abstractmethod
    def list(self, prefix: str) -> list[str]:
        """The keys that start with ``prefix`` (committed objects only)."""

    def presigned_url(self, key: str, *, expires_s: int, filename: str) -> str | None:
        """A short-lived URL that downloads the object, or None where the store has none."""
        return None

    def put_bytes(self, key: str, data: bytes) -> StoredBlob:
        """Write a small object (a model card, a report) in one go."""
        with self.writer(key) as out:
            out.write(data)
        assert out.result is not None
        return out.result

    def put_file(self, key: str, path: Path) -> StoredBlob:
        """Copy a local file into the store, streamed."""
        with self.writer(key) as out, path.open("rb") as source:
            while chunk := source.read(CHUNK_BYTES):
                out.write(chunk)
        assert out.result is not None
        return out.result

    def get_bytes(self, key: str, *, sha256: str | None = None) -> bytes:
        """A small object's bytes, checked against ``sha256`` when given.

        Raises:
            BlobError: ``blob_missing`` or ``blob_corrupt``.
        """
        data = b"".join(self.chunks(key))
        verify(key, hashlib.sha256(data).hexdigest(), sha256)
        return data


def copy_stream(source: IO[bytes], out: BlobWriter) -> None:
    """Copy a binary stream into a writer, chunk by chunk."""
    while chunk := source.read(CHUNK_BYTES):
        out.write(chunk)
