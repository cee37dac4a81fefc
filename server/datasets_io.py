"""Streaming a multipart dataset upload to disk under a size limit.

The body is never held in memory: the ``file`` part is written chunk by chunk to a
temporary file in the data directory while its sha256 is computed, and the upload stops
with a 413 as soon as ``data.max_upload_mb`` is exceeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from server.errors import BadRequest, PayloadTooLarge, UnprocessableEntity
from store.blobs.scratch import UPLOAD_PREFIX, UPLOAD_SUFFIX

CHUNK_BYTES = 256 * 1024
MAX_NAME_CHARS = 255
MULTIPART_OVERHEAD_BYTES = 64 * 1024
"""Room for boundaries, part headers and the ``name`` field on top of the file's own limit."""


@dataclass(frozen=True)
class Upload:
    """A received upload, written to ``path`` (a temporary file the caller moves or removes)."""

    path: Path
    filename: str
    content_type: str
    name: str | None
    size: int
    sha256: str
    head: bytes


async def _read_text_field(part: BodyPartReader, field: str) -> str:
    limit = 4 * MAX_NAME_CHARS
    raw = b""
    # Read in bounded chunks: a text field of any size never gets into memory whole.
    while chunk := await part.read_chunk(limit + 1):
        raw += chunk
        if len(raw) > limit:
            raise UnprocessableEntity(f"{field} is too long", details={"field": field})
    raw = part.decode(raw)
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise UnprocessableEntity(f"{field} must be UTF-8 text", details={"field": field}) from None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise UnprocessableEntity(f"{field} must not contain control characters", details={"field": field})
    return text


async def _stream_to(part: BodyPartReader, path: Path, max_bytes: int) -> tuple[int, str, bytes]:
    digest = hashlib.sha256()
    size = 0
    head = b""
    out = await asyncio.to_thread(path.open, "wb")
    try:
        while True:
            chunk = await part.read_chunk(CHUNK_BYTES)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(
                    f"the uploaded file exceeds data.max_upload_mb ({max_bytes // (1024 * 1024)} MB)",
                    details={"field": "file", "limit_bytes": max_bytes},
                )
            if len(head) < 8:
                head += chunk[: 8 - len(head)]
            digest.update(chunk)
            # Disk writes leave the event loop, so a slow disk does not stall other requests.
            await asyncio.to_thread(out.write, chunk)
    finally:
        await asyncio.to_thread(out.close)
    return size, digest.hexdigest(), head


def _temp_file(tmp_dir: Path) -> Path:
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=UPLOAD_PREFIX, suffix=UPLOAD_SUFFIX, dir=tmp_dir)
    os.close(fd)
    return Path(name)


def remove_quietly(*paths: Path | None) -> None:
    """Delete files that may already be gone."""
    for path in paths:
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()


async def receive_upload(request: web.Request, tmp_dir: Path, max_bytes: int) -> Upload:
    """Read the multipart body: a required ``file`` part and an optional ``name`` part.

    Raises:
        BadRequest: the body is not ``multipart/form-data``.
        UnprocessableEntity: ``file`` is missing or repeated, or a field is unknown or bad.
        PayloadTooLarge: the file exceeds ``max_bytes``.
    """
    if not request.content_type.startswith("multipart/"):
        raise BadRequest("upload the dataset as multipart/form-data with a 'file' field", details={"field": "file"})
    declared = request.content_length
    if declared is not None and declared > max_bytes + MULTIPART_OVERHEAD_BYTES:
        # Refused before a byte is read: a client announcing 1 GB gets its answer at once.
        raise PayloadTooLarge(
            f"the declared body size ({declared} bytes) exceeds data.max_upload_mb ({max_bytes // (1024 * 1024)} MB)",
            details={"field": "file", "limit_bytes": max_bytes, "declared_bytes": declared},
        )
    path = await asyncio.to_thread(_temp_file, tmp_dir)
    try:
        return await _receive(request, path, max_bytes)
    except BaseException:
        await asyncio.to_thread(remove_quietly, path)
        raise


async def _receive(request: web.Request, path: Path, max_bytes: int) -> Upload:
    try:
        return await _read_parts(request, path, max_bytes)
    except BadHttpMessage as exc:
        # A part header aiohttp refuses (e.g. a NUL byte in the file name).
        raise BadRequest(f"malformed multipart part header: {exc.message}"[:300], details={"field": "file"}) from None
    except (ValueError, AssertionError) as exc:
        # aiohttp's multipart reader signals a body that ends early (no closing boundary) this way.
        raise BadRequest(
            f"malformed or truncated multipart body: {exc or type(exc).__name__}", details={"field": "file"}
        ) from None


async def _read_parts(request: web.Request, path: Path, max_bytes: int) -> Upload:
    reader = await request.multipart()
    name: str | None = None
    received: tuple[int, str, bytes] | None = None
    filename, content_type = "", ""
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            raise UnprocessableEntity("nested multipart bodies are not supported", details={"field": "file"})
        if part.name == "name":
            name = await _read_text_field(part, "name")
        elif part.name == "file":
            if received is not None:
                raise UnprocessableEntity("send exactly one 'file' part", details={"field": "file"})
            filename = part.filename or ""
            content_type = part.headers.get("Content-Type", "")
            received = await _stream_to(part, path, max_bytes)
        else:
            raise UnprocessableEntity(
                f"unknown form field {part.name!r}; expected 'file' and optionally 'name'",
                details={"field": part.name or ""},
            )
    if received is None:
        raise UnprocessableEntity("the form has no 'file' part", details={"field": "file"})
    if name is not None and not 1 <= len(name) <= MAX_NAME_CHARS:
        raise UnprocessableEntity(f"name must have 1 to {MAX_NAME_CHARS} characters", details={"field": "name"})
    size, sha256, head = received
    return Upload(path, filename, content_type, name, size, sha256, head)
