"""``POST /datasets`` (streamed multipart upload), ``GET /datasets``, ``GET /datasets/{id}``."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from aiohttp import web
from sqlalchemy import and_, or_, select

from server.auth import reader_of
from server.datasets_io import receive_upload, remove_quietly
from server.errors import NotFoundError
from server.keys import SESSIONS, SETTINGS
from server.parsing import parse_query
from server.routing import Operation
from server.schemas.datasets import DatasetDetail, DatasetListQuery, DatasetOut, DatasetPage
from server.serialize import dataset_json
from server.tabular import detect_format, preview, read_table
from store.cursor import decode_cursor, encode_cursor
from store.datasets import create_dataset, get_dataset
from store.engine import read_session
from store.models import DatasetSource
from store.types import new_id

MIB = 1024 * 1024
EXTENSIONS = {"csv": ".csv", "parquet": ".parquet"}


DATASETS_SUBDIR = "datasets"
"""Uploads live in ``<data_dir>/datasets``; rows record the path relative to the data dir."""


def datasets_dir(data_dir: Path) -> Path:
    """Where uploaded datasets are stored."""
    return data_dir / DATASETS_SUBDIR


def dataset_file(data_dir: Path, storage_uri: str) -> Path:
    """The file of a dataset row (relative to the data dir, or absolute, or ``file://``)."""
    path = Path(storage_uri.removeprefix("file://"))
    return path if path.is_absolute() else data_dir / path


def _display_name(filename: str) -> str:
    """The file name without directories or control characters: a label, never a path."""
    base = Path(filename.replace("\\", "/")).name
    return "".join(ch for ch in base if ord(ch) >= 32 and ord(ch) != 127)


async def upload_dataset(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    reader = reader_of(request)
    assert reader.user_id is not None
    target_dir = datasets_dir(settings.data_dir)
    upload = await receive_upload(request, target_dir / "tmp", settings.data.max_upload_mb * MIB)
    final: Path | None = None
    try:
        fmt = detect_format(upload.filename, upload.content_type, upload.head)
        info = await asyncio.to_thread(read_table, upload.path, fmt, max_columns=settings.data.max_columns)
        dataset_id = new_id()
        relative = f"{DATASETS_SUBDIR}/{dataset_id}{EXTENSIONS[fmt]}"
        final = settings.data_dir / relative
        await asyncio.to_thread(os.replace, upload.path, final)
        name = upload.name or _display_name(upload.filename) or f"dataset-{dataset_id[:8]}"
        async with request.app[SESSIONS].begin() as session:
            row = await create_dataset(
                session,
                owner_id=reader.user_id,
                name=name[:255],
                storage_uri=relative,
                format=fmt,
                n_rows=info.n_rows,
                columns=info.columns,
                sha256=upload.sha256,
                dataset_id=dataset_id,
            )
        return web.json_response(dataset_json(row), status=201)
    except BaseException:
        await asyncio.to_thread(remove_quietly, upload.path, final)
        raise


async def list_datasets(request: web.Request) -> web.Response:
    query = parse_query(request, DatasetListQuery)
    stmt = select(DatasetSource).where(reader_of(request).owns(DatasetSource.owner_id))
    if query.cursor:
        at, last_id = decode_cursor(query.cursor)
        stmt = stmt.where(
            or_(DatasetSource.created_at < at, and_(DatasetSource.created_at == at, DatasetSource.id < last_id))
        )
    stmt = stmt.order_by(DatasetSource.created_at.desc(), DatasetSource.id.desc()).limit(query.limit + 1)
    async with read_session(request.app[SESSIONS]) as session:
        rows = list((await session.scalars(stmt)).all())
    page, more = rows[: query.limit], len(rows) > query.limit
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if more else None
    return web.json_response({"items": [dataset_json(r) for r in page], "next_cursor": next_cursor})


async def get_dataset_detail(request: web.Request) -> web.Response:
    async with read_session(request.app[SESSIONS]) as session:
        row = await get_dataset(session, request.match_info["dataset_id"], reader=reader_of(request))
    path = dataset_file(request.app[SETTINGS].data_dir, row.storage_uri)
    try:
        rows = await asyncio.to_thread(preview, path, row.format)
    except FileNotFoundError:
        raise NotFoundError(
            "the dataset's file is missing from the data directory", code="dataset_file_missing"
        ) from None
    return web.json_response({**dataset_json(row), "preview": rows})


_UPLOAD_BODY = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {"type": "string", "format": "binary", "description": "A .csv or .parquet file."},
                "name": {"type": "string", "minLength": 1, "maxLength": 255},
            },
            "additionalProperties": False,
        },
    }
}
_ID = {"dataset_id": {"type": "string", "minLength": 1, "maxLength": 64}}

OPERATIONS = [
    Operation(
        "POST",
        "/datasets",
        upload_dataset,
        "upload_dataset",
        "Upload a CSV or Parquet dataset",
        "datasets",
        {201: DatasetOut},
        body=_UPLOAD_BODY,
    ),
    Operation(
        "GET",
        "/datasets",
        list_datasets,
        "list_datasets",
        "The caller's datasets, newest first",
        "datasets",
        {200: DatasetPage},
        query=DatasetListQuery,
    ),
    Operation(
        "GET",
        "/datasets/{dataset_id}",
        get_dataset_detail,
        "get_dataset",
        "A dataset's schema and preview",
        "datasets",
        {200: DatasetDetail},
        path_params=_ID,
    ),
]
