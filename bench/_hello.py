"""An aiohttp hello-world served like ``mlw serve`` serves (``web.run_app``, INFO logging).

    python bench/_hello.py PORT
"""

from __future__ import annotations

import logging
import sys

from aiohttp import web


async def hello(_request: web.Request) -> web.Response:
    return web.json_response({"hello": "world"})


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = web.Application()
    app.router.add_get("/hello", hello)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, handle_signals=True)


if __name__ == "__main__":
    main()
