"""A minimal keep-alive HTTP/1.1 load driver for the benchmarks (not a general client).

Each of ``connections`` coroutines keeps one TCP connection and sends requests back to
back for ``duration_s``; latency is the time from writing a request to reading the last
byte of its response. Far lighter than a full client library, so that the driver's own
CPU share stays small next to the server it drives.
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
from collections import Counter
from collections.abc import Callable


@dataclasses.dataclass
class LoadResult:
    """What one driven phase measured."""

    latencies: list[float]
    statuses: Counter[int]
    elapsed_s: float
    errors: int = 0

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed_s if self.elapsed_s else 0.0

    def percentile_ms(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000 if self.latencies else float("nan")

    @property
    def p99_ms(self) -> float:
        return self.percentile_ms(0.99)


def request_bytes(method: str, path: str, host: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    """One HTTP/1.1 keep-alive request, ready to write."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        elif name.strip().lower() == b"transfer-encoding" and b"chunked" in value.lower():
            raise RuntimeError("chunked responses are not supported by this driver")
    if length:
        await reader.readexactly(length)
    return status


async def drive(
    host: str, port: int, request: Callable[[int], bytes], *, connections: int, duration_s: float
) -> LoadResult:
    """Send ``request(n)`` (n counts per connection) on ``connections`` connections for ``duration_s``."""
    result = LoadResult([], Counter(), 0.0)
    started = time.perf_counter()
    deadline = started + duration_s

    async def one() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        n = 0
        try:
            while time.perf_counter() < deadline:
                data = request(n)
                n += 1
                t0 = time.perf_counter()
                writer.write(data)
                try:
                    status = await _read_response(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    result.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                    continue
                result.latencies.append(time.perf_counter() - t0)
                result.statuses[status] += 1
        finally:
            writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    result.elapsed_s = time.perf_counter() - started
    return result
