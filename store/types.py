"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

UTC = dt.UTC

JSONType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")
"""Portable JSON: ``JSONB`` on PostgreSQL, SQLite's JSON text elsewhere."""


def utcnow() -> dt.datetime:
    """The current time as a timezone-aware UTC datetime."""
    return dt.datetime.now(UTC)


def new_id() -> str:
    """A new random UUID as its 36-character string form."""
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value is stored as
    naive UTC (a fixed-width text that sorts chronologically) and made aware again on load.
    Naive datetimes are refused on the way in: their zone would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
