"""REST latency: GET and POST /training-jobs at 50 connections vs an aiohttp hello-world.

Starts an embedded Redis, ``mlw serve --no-worker`` on SQLite and, as the baseline, an
aiohttp hello-world served the same way (``web.run_app``, INFO logging), each in its own
process. The same driver (``bench/_http.py``: keep-alive connections in one process, each
sending requests back to back) hits, for ``--duration`` seconds each: the hello-world,
``GET /training-jobs/{id}`` of a queued job, and ``POST /training-jobs``. No worker runs, so
the posted jobs stay queued; ``jobs.max_active_per_user`` is raised and
``jobs.one_active_per_node`` switched off for the run so that every POST is a real 202.

    .venv/bin/python bench/api_latency.py [--connections 50] [--duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._cluster import API, MlwServe, free_port, raise_open_file_limit, started, wait_http, workspace  # noqa: E402
from bench._http import LoadResult, drive, request_bytes  # noqa: E402

GET_THROUGHPUT_TARGET = 0.15
GET_P99_TARGET_MS = 50.0
POST_P99_TARGET_MS = 100.0

GRAPH = {
    "nodes": [
        {"id": "src", "type": "dataset_source", "position": {"x": 0, "y": 0}, "data": {"label": "src", "config": {}}},
        {"id": "split", "type": "train_test_split", "position": {"x": 200, "y": 0},
         "data": {"label": "split", "config": {"test_size": 0.25, "random_state": 7}}},
        {"id": "train", "type": "train_model", "position": {"x": 400, "y": 0},
         "data": {"label": "train", "config": {"model_type": "logistic_regression", "target": "target",
                                               "hyperparameters": {}}}},
    ],
    "edges": [{"id": "e1", "source": "src", "target": "split"}, {"id": "e2", "source": "split", "target": "train"}],
}


def _call(method: str, url: str, token: str, body: bytes, content_type: str) -> dict[str, object]:
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=60) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


def _upload(url: str, token: str) -> str:
    rows = ["a,b,target"] + [f"{i % 7},{(i * 3) % 11},{i % 2}" for i in range(200)]
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench.csv\"\r\n"
            f"Content-Type: text/csv\r\n\r\n" + "\n".join(rows) + f"\n\r\n--{boundary}--\r\n").encode()
    return str(_call("POST", f"{url}{API}/datasets", token, body, f"multipart/form-data; boundary={boundary}")["id"])


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _driven(pid: int, port: int, request: bytes, conns: int, duration: float) -> tuple[LoadResult, float]:
    """The phase's result and the server's CPU milliseconds per request over it."""
    before = _cpu_s(pid)
    result = asyncio.run(drive("127.0.0.1", port, lambda _n: request, connections=conns, duration_s=duration))
    return result, (_cpu_s(pid) - before) * 1000 / max(1, len(result.latencies))


def _row(label: str, result: LoadResult, cpu_ms: float, base: LoadResult, base_cpu_ms: float) -> str:
    non_2xx = sum(n for status, n in result.statuses.items() if not 200 <= status < 300) + result.errors
    return (f"{label:<26} {result.throughput:9.0f} {result.p50_ms:8.1f} {result.p99_ms:8.1f} "
            f"{result.throughput / base.throughput:8.3f} {cpu_ms:7.2f} {cpu_ms / base_cpu_ms:7.1f} {non_2xx:7d}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    raise_open_file_limit(4096)
    conns, duration = args.connections, args.duration
    with workspace() as (tmp, redis_url):
        port = free_port()
        with started([sys.executable, str(REPO / "bench" / "_hello.py"), str(port)], {"PYTHONPATH": str(REPO)},
                     tmp / "hello.log") as proc:
            wait_http(f"http://127.0.0.1:{port}/hello", proc=proc)
            hello_req = request_bytes("GET", "/hello", f"127.0.0.1:{port}")
            hello, hello_cpu = _driven(proc.pid, port, hello_req, conns, duration)

        serve = MlwServe(tmp, redis_url, {"MLW_JOBS_MAX_ACTIVE_PER_USER": "10000000",
                                          "MLW_JOBS_ONE_ACTIVE_PER_NODE": "false"})
        with serve.running() as mlw:
            token = serve.users_create("bench")
            dataset = _upload(serve.url, token)
            submit = json.dumps({"dataset_source_id": dataset, "node_id": "train", "graph": GRAPH}).encode()
            job = _call("POST", f"{serve.url}{API}/training-jobs", token, submit, "application/json")
            host = f"127.0.0.1:{serve.port}"
            auth = {"Authorization": f"Bearer {token}"}
            get_req = request_bytes("GET", f"{API}/training-jobs/{job['id']}", host, auth)
            get, get_cpu = _driven(mlw.pid, serve.port, get_req, conns, duration)
            post_req = request_bytes("POST", f"{API}/training-jobs", host,
                                     {**auth, "Content-Type": "application/json"}, submit)
            post, post_cpu = _driven(mlw.pid, serve.port, post_req, conns, duration)

    print(f"connections={conns} duration={duration:g}s each; one driver process; SQLite, embedded Redis, no worker")
    print(f"{'endpoint':<26} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'thr/base':>8} {'cpu ms':>7} "
          f"{'cpu/base':>7} {'non-2xx':>7}")
    print(_row("hello-world (baseline)", hello, hello_cpu, hello, hello_cpu))
    print(_row("GET /training-jobs/{id}", get, get_cpu, hello, hello_cpu))
    print(_row("POST /training-jobs", post, post_cpu, hello, hello_cpu))
    print("cpu ms = the serving process's CPU time per request (less sensitive to other load than req/s)")
    for label, result in (("GET", get), ("POST", post)):
        refused = {status: n for status, n in result.statuses.items() if not 200 <= status < 300}
        if refused or result.errors:
            print(f"{label}: not 2xx: {refused} statuses, {result.errors} connection errors (see serve.log)")
    checks = [
        (f"GET throughput >= {GET_THROUGHPUT_TARGET}x hello-world",
         get.throughput / hello.throughput >= GET_THROUGHPUT_TARGET, f"{get.throughput / hello.throughput:.3f}x"),
        (f"GET p99 <= {GET_P99_TARGET_MS:g} ms", get.p99_ms <= GET_P99_TARGET_MS, f"{get.p99_ms:.1f} ms"),
        (f"POST p99 <= {POST_P99_TARGET_MS:g} ms", post.p99_ms <= POST_P99_TARGET_MS, f"{post.p99_ms:.1f} ms"),
    ]
    for name, ok, got in checks:
        print(f"target: {name}: {got} {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
