"""Exact HTTP/1.1 requests over a socket: request targets and headers exactly as an attacker sends them.

aiohttp's and requests' clients normalise paths (``..`` segments, percent escapes) and fix
up ``Content-Length``; these helpers send the bytes given, so the server sees what a hostile
client would send.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from typing import Any


@dataclasses.dataclass(frozen=True)
class RawResponse:
    """A parsed response: status, lower-cased headers and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _parse(data: bytes) -> RawResponse:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = body[: int(headers["content-length"])]
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return RawResponse(status, headers, body)


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, body = out + body[:size], body[size + 2 :]
    return out


async def raw_request(
    host: str,
    port: int,
    method: str,
    target: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    content_length: int | None = None,
    close_write: bool = False,
    wait_s: float = 15.0,
) -> RawResponse:
    """Send one request and read the response until the server closes or the body is complete.

    Args:
        host: Server address.
        port: Server port.
        method: The HTTP method.
        target: The request target, sent verbatim (no normalisation, no quoting).
        headers: Extra headers, sent verbatim.
        body: The bytes of the body actually sent.
        content_length: The declared ``Content-Length``; defaults to ``len(body)``.
        close_write: Half-close the socket after the body (a client that gives up sending).
        wait_s: How long to wait for the response.
    """
    declared = len(body) if content_length is None else content_length
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or content_length is not None or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {declared}")
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        if close_write and writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(wait_s):
            data = b""
            while chunk := await reader.read(65536):
                data += chunk
                if _complete(data):
                    break
        return _parse(data)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return len(body) >= int(value.strip())
    return False
