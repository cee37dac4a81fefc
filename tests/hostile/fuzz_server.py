"""The API in a process of its own for the long schemathesis run: ``python -m tests.hostile.fuzz_server``.

The fuzzer (hypothesis, schemathesis, response validation) then has one core and the server
the other, instead of sharing one interpreter lock. Training messages are recorded, not sent:
the run checks the HTTP surface, not the workers.
"""

from __future__ import annotations

import argparse

from aiohttp import web

from server.app import create_app
from store.settings import load_settings
from tests.server.conftest import RecordingSender


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--redis-url", required=True)
    args = parser.parse_args()
    settings = load_settings(
        environ={}, overrides={"data": {"data_dir": args.data_dir}, "redis": {"url": args.redis_url}}
    )
    app = create_app(settings, sender=RecordingSender())
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=lambda text: print(text, flush=True))


if __name__ == "__main__":
    main()
