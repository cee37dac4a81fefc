"""Schemas of the signed-in user."""

from __future__ import annotations

import datetime as dt

from server.schemas.common import ResponseModel


class MeOut(ResponseModel):
    """The user a token belongs to."""

    id: str
    name: str
    is_admin: bool
    created_at: dt.datetime | None
