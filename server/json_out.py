"""JSON responses whose encoding may be large (a 995-node graph, a job with a thousand warnings).

``json.dumps`` runs in C and holds the GIL for the whole document, so a large one encoded on
the event loop stalls every other request; here it is encoded on the bounded executor
(``server.offload``) under the requesting user's share.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from server.auth import reader_of
from server.keys import OFFLOAD

LARGE_ITEMS = 2000
"""A document with more values than this (strings and numbers of a thousand warnings) is
encoded on the bounded executor; a smaller one costs less to encode than the hand-off."""


def has_more_items(data: Any, budget: int = LARGE_ITEMS) -> bool:
    """Whether ``data`` holds more than ``budget`` values (dict and list entries); stops counting there."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            budget -= len(item)
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            budget -= len(item)
            stack.extend(item)
        if budget < 0:
            return True
    return False


def _encode(data: Any) -> str:
    return json.dumps(data)


async def large_json_response(request: web.Request, data: Any, *, status: int = 200) -> web.Response:
    """``web.json_response(data, status=status)``, encoded off the event loop."""
    text = await request.app[OFFLOAD].run(reader_of(request).user_id or "", _encode, data)
    return web.Response(text=text, status=status, content_type="application/json")


async def json_response(request: web.Request, data: Any, *, status: int = 200) -> web.Response:
    """``web.json_response``, encoded off the event loop when ``data`` is large (:func:`has_more_items`)."""
    if has_more_items(data):
        return await large_json_response(request, data, status=status)
    return web.json_response(data, status=status)
