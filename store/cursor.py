"""Opaque cursors for keyset pagination on ``(created_at, id)``."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json

from store.errors import InvalidInput


def encode_cursor(created_at: dt.datetime, row_id: str) -> str:
    """A URL-safe token naming the last row of a page."""
    raw = json.dumps([created_at.astimezone(dt.UTC).isoformat(), row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    """The ``(created_at, id)`` a cursor names.

    Raises:
        InvalidInput: the cursor was not made by :func:`encode_cursor`; names ``cursor``.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, row_id = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        moment = dt.datetime.fromisoformat(created)
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise InvalidInput("cursor", "not a cursor returned by a previous page") from None
    if moment.tzinfo is None or not isinstance(row_id, str):
        raise InvalidInput("cursor", "not a cursor returned by a previous page")
    return moment, row_id
