"""Schemas of uploaded datasets."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from server.schemas.common import RequestModel, ResponseModel


class ColumnOut(ResponseModel):
    name: str
    dtype: str


class DatasetOut(ResponseModel):
    """An uploaded dataset (the answer of ``POST /datasets``)."""

    id: str
    name: str
    format: str
    n_rows: int
    columns: list[ColumnOut]
    sha256: str
    created_at: dt.datetime


class DatasetDetail(DatasetOut):
    """A dataset with its first rows."""

    preview: list[dict[str, Any]] = Field(description="Up to 20 rows, JSON-ready (NaN becomes null).")


class DatasetPage(ResponseModel):
    items: list[DatasetOut]
    next_cursor: str | None


class DatasetListQuery(RequestModel):
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, min_length=1, max_length=500)
