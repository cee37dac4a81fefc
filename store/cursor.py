"""Opaque cursors for keyset pagination: the one codec of every listing.

A cursor names the last row of a page by its sort key: optional leading values (e.g. a
metric), then ``(created_at, id)`` (or another timestamp and primary key). A cursor of an
ordered listing also names its order, so replaying it with another order is refused.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from store.errors import InvalidInput

_NOT_A_CURSOR = "not a cursor returned by a previous page"


@dataclasses.dataclass(frozen=True)
class Cursor:
    """What a cursor names: the leading sort values, then the last row's time and id."""

    lead: list[Any]
    at: dt.datetime
    row_id: str


def encode_cursor(at: dt.datetime, row_id: str, *, order: str | None = None, lead: Sequence[Any] = ()) -> str:
    """A URL-safe token naming the last row of a page (and the page's ``order`` when given)."""
    key = [*lead, at.astimezone(dt.UTC).isoformat(), row_id]
    payload: Any = key if order is None else {"o": order, "k": key}
    raw = json.dumps(payload, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, *, order: str | None = None, lead: int = 0) -> Cursor:
    """The sort key a cursor names; ``order`` and ``lead`` must be those it was made with.

    Leading values must be JSON numbers or null.

    Raises:
        InvalidInput: the cursor was not made by :func:`encode_cursor` with this order; names ``cursor``.
    """
    problem = _NOT_A_CURSOR if order is None else f"{_NOT_A_CURSOR} with the same order_by"
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if order is not None:
            payload = payload["k"] if isinstance(payload, dict) and payload.get("o") == order else None
        if not isinstance(payload, list) or len(payload) != lead + 2:
            raise InvalidInput("cursor", problem)
        *values, created, row_id = payload
        moment = dt.datetime.fromisoformat(created)
    except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error):
        raise InvalidInput("cursor", problem) from None
    numbers = all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values)
    if moment.tzinfo is None or not isinstance(row_id, str) or not numbers:
        raise InvalidInput("cursor", problem)
    return Cursor(lead=values, at=moment, row_id=row_id)


def after(cursor: Cursor, at_column: Any, id_column: Any, *, newest_first: bool = True) -> ColumnElement[bool]:
    """The WHERE clause of the rows after ``cursor`` in ``(at, id)`` order (descending when newest first)."""
    if newest_first:
        return or_(at_column < cursor.at, and_(at_column == cursor.at, id_column < cursor.row_id))
    return or_(at_column > cursor.at, and_(at_column == cursor.at, id_column > cursor.row_id))
