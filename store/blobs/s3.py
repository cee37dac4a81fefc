"""The S3 backend (AWS S3, MinIO, Ceph, R2, ...) on boto3.

A write streams to a temporary key under ``<prefix>/_tmp/`` (a multipart upload once it
passes one part, so memory holds at most one part), and is committed by a server-side
copy to its key when the writer closes cleanly; the temporary object is then removed. A
process killed while writing leaves at most a temporary object or an unfinished
multipart upload, never an object under a real key; the workers' sweep
(:meth:`S3BlobStore.sweep_temporary`, ``actors.jobs.temp_sweep``) removes such leftovers.
Each process makes its own client after a fork.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.config
import botocore.exceptions

from store.blobs.base import CHUNK_BYTES, BlobStore, BlobWriter, StoredBlob, check_key, verify
from store.blobs.scratch import DOWNLOAD_PREFIX
from store.errors import BlobError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TMP_PREFIX = "_tmp/"
MAX_COPY_BYTES = 5 * 1024**3  # one CopyObject call's limit; larger objects use a multipart copy
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


@dataclass(frozen=True)
class S3Options:
    """How to reach the store; empty strings leave a value to boto3's own defaults
    (the standard ``AWS_*`` variables, shared config files, instance roles)."""

    endpoint_url: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""
    session_token: str = ""
    addressing_style: str = "auto"
    part_bytes: int = 8 * 1024 * 1024
    presigned_downloads: bool = False


def parse_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix`` (the prefix without slashes at its ends)."""
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix.strip("/")


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unavailable(key: str, exc: Exception) -> BlobError:
    return BlobError(f"object storage failed on {key!r}: {exc}", code="blob_unavailable", key=key)


class _S3Writer(BlobWriter):
    """Buffers one part; starts a multipart upload when the object outgrows it."""

    def __init__(self, client: S3Client, bucket: str, temp: str, part_bytes: int) -> None:
        super().__init__()
        self.client, self.bucket, self.temp, self.part_bytes = client, bucket, temp, part_bytes
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def _emit(self, data: memoryview) -> None:
        self.buffer += data
        while len(self.buffer) >= self.part_bytes:
            self._send_part(bytes(self.buffer[: self.part_bytes]))
            del self.buffer[: self.part_bytes]

    def _send_part(self, body: bytes) -> None:
        if self.upload_id is None:
            self.upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.temp)["UploadId"]
        number = len(self.parts) + 1
        answer = self.client.upload_part(
            Bucket=self.bucket, Key=self.temp, UploadId=self.upload_id, PartNumber=number, Body=body
        )
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def finish(self) -> None:
        """Put the whole temporary object."""
        if self.upload_id is None:
            self.client.put_object(Bucket=self.bucket, Key=self.temp, Body=bytes(self.buffer))
        else:
            if self.buffer:
                self._send_part(bytes(self.buffer))
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=self.temp, UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts},  # type: ignore[typeddict-item]
            )
        self.buffer.clear()

    def discard(self) -> None:
        """Drop what was sent (best effort: the sweep catches the rest)."""
        with contextlib.suppress(Exception):
            if self.upload_id is not None:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.temp, UploadId=self.upload_id)
            self.client.delete_object(Bucket=self.bucket, Key=self.temp)


class S3BlobStore(BlobStore):
    """Objects under ``s3://bucket/prefix``.

    Args:
        url: ``s3://bucket/prefix``.
        options: Endpoint, region, credentials and transfer settings.
        scratch: A local directory for downloads (each process its own; nothing shared).
    """

    def __init__(self, url: str, options: S3Options, scratch: Path) -> None:
        self.bucket, self.prefix = parse_s3_url(url)
        self.root_uri = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        self.options = options
        self.scratch = scratch
        self.presigns = options.presigned_downloads
        self._client: tuple[int, S3Client] | None = None

    @property
    def client(self) -> S3Client:
        """This process's client (made again after a fork: connections are not shared)."""
        if self._client is None or self._client[0] != os.getpid():
            opts = self.options
            config = botocore.config.Config(
                signature_version="s3v4",
                s3={"addressing_style": opts.addressing_style},  # type: ignore[arg-type]
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
            )
            client = boto3.session.Session().client(
                "s3",
                endpoint_url=opts.endpoint_url or None,
                region_name=opts.region or None,
                aws_access_key_id=opts.access_key_id or None,
                aws_secret_access_key=opts.secret_access_key or None,
                aws_session_token=opts.session_token or None,
                config=config,
            )
            self._client = (os.getpid(), client)
        return self._client[1]

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"{self.root_uri}/{check_key(key)}"

    def key(self, uri: str) -> str:
        if not uri.startswith("s3://"):
            return check_key(uri)  # a key recorded relative to the root
        if not uri.startswith(self.root_uri + "/"):
            raise BlobError(f"{uri!r} lies outside the storage root {self.root_uri}", code="blob_outside_root",
                            key=uri)
        return check_key(uri.removeprefix(self.root_uri + "/"))

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[BlobWriter]:
        final = self._name(check_key(key))
        temp = self._name(f"{TMP_PREFIX}{uuid.uuid4().hex}-{key.rpartition('/')[2]}")
        out = _S3Writer(self.client, self.bucket, temp, self.options.part_bytes)
        try:
            yield out
            out.finish()
            self._commit(temp, final, out.size)
        except botocore.exceptions.BotoCoreError as exc:
            out.discard()
            raise _unavailable(key, exc) from exc
        except botocore.exceptions.ClientError as exc:
            out.discard()
            raise _unavailable(key, exc) from exc
        except BaseException:
            out.discard()
            raise
        with contextlib.suppress(Exception):
            self.client.delete_object(Bucket=self.bucket, Key=temp)
        out.result = StoredBlob(key, self.uri(key), out.size, out.sha256)

    def _commit(self, temp: str, final: str, size: int) -> None:
        source = {"Bucket": self.bucket, "Key": temp}
        if size <= MAX_COPY_BYTES:
            self.client.copy_object(Bucket=self.bucket, Key=final, CopySource=source)  # type: ignore[arg-type]
        else:
            self.client.copy(source, self.bucket, final)  # type: ignore[arg-type]

    def _get(self, key: str) -> Any:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._name(check_key(key)))
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in _MISSING:
                raise BlobError(f"no stored object {key!r}", code="blob_missing", key=key) from None
            raise _unavailable(key, exc) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise _unavailable(key, exc) from exc

    def chunks(self, key: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        body = self._get(key)["Body"]
        return _drain(body, chunk_bytes)

    @contextlib.contextmanager
    def local_file(self, key: str, *, sha256: str | None = None) -> Iterator[Path]:
        self.scratch.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=DOWNLOAD_PREFIX, suffix=f"-{key.rpartition('/')[2]}", dir=self.scratch)
        path = Path(name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as handle:
                for chunk in self.chunks(key):
                    digest.update(chunk)
                    handle.write(chunk)
            verify(key, digest.hexdigest(), sha256)
            yield path
        finally:
            with contextlib.suppress(OSError):
                path.unlink()

    def size(self, key: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self._name(check_key(key)))["ContentLength"])
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise _unavailable(key, exc) from exc

    def delete(self, key: str) -> bool:
        existed = self.size(key) is not None
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise _unavailable(key, exc) from exc
        return existed

    def sweep_temporary(self, older_than: datetime) -> list[str]:
        temp = self._name(TMP_PREFIX)
        removed: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=temp):
                for item in page.get("Contents", []):
                    if item["LastModified"] < older_than:
                        self.client.delete_object(Bucket=self.bucket, Key=item["Key"])
                        removed.append(item["Key"])
            uploads = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=temp)
            for listing in uploads:
                for upload in listing.get("Uploads", []):
                    if self._last_written(upload["Key"], upload["UploadId"], upload["Initiated"]) < older_than:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        removed.append(f"{upload['Key']} (unfinished upload)")
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise _unavailable(TMP_PREFIX, exc) from exc
        return sorted(removed)

    def _last_written(self, name: str, upload_id: str, initiated: datetime) -> datetime:
        """When an unfinished multipart upload last received a part (its start if none): a long
        upload still streaming stays fresh, like a local temporary file being written."""
        # (moto, the test server, reports a fixed Initiated date; real stores the upload's start)
        pages = self.client.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=name, UploadId=upload_id)
        return max((part["LastModified"] for page in pages for part in page.get("Parts", [])), default=initiated)

    def list(self, prefix: str) -> list[str]:
        start = self._name(prefix) if prefix else (f"{self.prefix}/" if self.prefix else "")
        cut = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start):
            keys.extend(item["Key"][cut:] for item in page.get("Contents", []))
        return sorted(k for k in keys if not k.startswith(TMP_PREFIX))

    def presigned_url(self, key: str, *, expires_s: int, filename: str) -> str | None:
        if not self.presigns:
            return None
        params = {
            "Bucket": self.bucket,
            "Key": self._name(check_key(key)),
            "ResponseContentDisposition": f'attachment; filename="{filename}"',
        }
        return str(self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s))


def _drain(body: Any, chunk_bytes: int) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(chunk_bytes)
    finally:
        body.close()
