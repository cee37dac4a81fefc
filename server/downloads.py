"""Serving a stored object (a model, a model card, a report) after the caller's access check.

Either a ``307`` to a short-lived presigned URL (S3 with ``s3.presigned_downloads``), or
the bytes streamed through this process chunk by chunk (never the whole object in
memory). A streamed object is hashed on the way; when it does not match the recorded
sha256 the connection is cut before the end, so a client never takes a corrupt download
for a complete one.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterator

from aiohttp import web

from store.blobs import BlobStore

log = logging.getLogger(__name__)
_END = b""


def _next(chunks: Iterator[bytes]) -> bytes:
    return next(chunks, _END)


async def stream_object(
    request: web.Request,
    store: BlobStore,
    uri: str,
    sha256: str | None,
    filename: str,
    *,
    content_type: str = "application/octet-stream",
    presign_expiry_s: int = 300,
) -> web.StreamResponse:
    """The response that downloads the object a row recorded at ``uri``.

    Call it only after the caller was allowed to read the row.

    Raises:
        store.errors.BlobError: ``blob_missing`` / ``blob_outside_root`` before anything
            was sent (the caller turns them into its own 404), ``blob_unavailable``.
    """
    key = store.key(uri)
    if store.presigns:
        url = await asyncio.to_thread(store.presigned_url, key, expires_s=presign_expiry_s, filename=filename)
        if url is not None:
            size = await asyncio.to_thread(store.size, key)
            if size is None:
                store.chunks(key)  # raises blob_missing: no URL to an object that is not there
            return web.Response(status=307, headers={"Location": url, "Cache-Control": "no-store"})
    size = await asyncio.to_thread(store.size, key)
    chunks = await asyncio.to_thread(store.chunks, key)  # blob_missing raises here, before a byte is sent
    headers = {
        "Content-Type": content_type,
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    }
    if sha256:
        headers["X-Artifact-SHA256"] = sha256
    response = web.StreamResponse(headers=headers)
    if size is not None:
        response.content_length = size
    await response.prepare(request)
    digest = hashlib.sha256()
    sent = 0
    try:
        while chunk := await asyncio.to_thread(_next, chunks):
            digest.update(chunk)
            sent += len(chunk)
            last = size is not None and sent >= size
            if sha256 and last and digest.hexdigest() != sha256.lower():
                # The last bytes are held back and the connection closed: the client sees a
                # short body, never a complete-looking corrupt file.
                log.error("stored object %s does not match its recorded sha256; download cut", key)
                if request.transport is not None:
                    request.transport.close()
                return response
            await response.write(chunk)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            await asyncio.to_thread(close)
    await response.write_eof()
    return response
