"""``GET /users/me``: who the token belongs to (the header's signed-in user)."""

from __future__ import annotations

from aiohttp import web

from server.keys import USER
from server.routing import Operation
from server.schemas.users import MeOut
from server.serialize import iso


async def me(request: web.Request) -> web.Response:
    user = request[USER]
    return web.json_response(
        {"id": user.id, "name": user.name, "is_admin": user.is_admin, "created_at": iso(user.created_at)}
    )


OPERATIONS = [
    Operation("GET", "/users/me", me, "get_me", "The signed-in user (the token's owner)", "users", {200: MeOut}),
]
