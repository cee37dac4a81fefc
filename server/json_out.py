"""JSON responses whose encoding may be large (a 995-node graph, a job with a thousand warnings).

``json.dumps`` runs in C and holds the GIL for the whole document, so a large one encoded on
the event loop stalls every other request; here it is encoded on the bounded executor
(``server.offload``) under the requesting user's share.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from server.auth import reader_of
from server.keys import OFFLOAD


def _encode(data: Any) -> str:
    return json.dumps(data)


async def large_json_response(request: web.Request, data: Any, *, status: int = 200) -> web.Response:
    """``web.json_response(data, status=status)``, encoded off the event loop."""
    text = await request.app[OFFLOAD].run(reader_of(request).user_id or "", _encode, data)
    return web.Response(text=text, status=status, content_type="application/json")
