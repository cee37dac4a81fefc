"""``POST /datasets`` (streamed upload, parsed once), ``GET /datasets``, ``GET``/``DELETE /datasets/{id}``."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from server.auth import reader_of
from server.datasets_io import receive_upload, remove_quietly
from server.errors import NotFoundError, PayloadTooLarge
from server.keys import BLOBS, OFFLOAD, SESSIONS, SETTINGS
from server.parsing import parse_query
from server.routing import Operation
from server.schemas.datasets import DatasetDetail, DatasetListQuery, DatasetOut, DatasetPage
from server.serialize import dataset_json
from server.tabular import detect_format, legacy_preview, store_upload
from store.blobs import BlobStore, StoredBlob
from store.datasets import create_dataset, delete_dataset, get_dataset, page_datasets, stored_bytes_of
from store.engine import read_session
from store.errors import BlobError
from store.settings import Settings
from store.types import new_id

log = logging.getLogger(__name__)
MIB = 1024 * 1024
STORED_SUFFIX = ".parquet"
"""Every upload is stored as Parquet (typed columns, parsed once); ``format`` keeps the uploaded one."""


DATASETS_SUBDIR = "datasets"
"""Uploads are stored under the key ``datasets/<id>.parquet`` of the data store (``data.root``)."""


def _display_name(filename: str) -> str:
    """The file name without directories or control characters: a label, never a path."""
    base = Path(filename.replace("\\", "/")).name
    return "".join(ch for ch in base if ord(ch) >= 32 and ord(ch) != 127)


def _over_quota(settings: Settings, used: int, adding: int) -> PayloadTooLarge:
    quota = settings.data.max_bytes_per_user
    return PayloadTooLarge(
        f"storing this dataset would exceed your storage quota data.max_bytes_per_user ({quota} bytes): "
        f"{used} bytes are used and it needs {adding}; delete datasets you no longer need",
        code="storage_quota_exceeded",
        details={"field": "file", "quota_bytes": quota, "used_bytes": used, "needed_bytes": adding},
    )


async def _check_quota(request: web.Request, user_id: str, adding: int, *, lock: bool = False) -> None:
    settings = request.app[SETTINGS]
    quota = settings.data.max_bytes_per_user
    if quota == 0:
        return
    async with read_session(request.app[SESSIONS]) as session:
        used = await stored_bytes_of(session, user_id, lock=lock)
    if used + adding > quota:
        raise _over_quota(settings, used, adding)


async def upload_dataset(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    reader = reader_of(request)
    assert reader.user_id is not None
    await _check_quota(request, reader.user_id, 1)  # already full: refused before a byte is read
    blobs = request.app[BLOBS]
    upload = await receive_upload(request, blobs.scratch, settings.data.max_upload_mb * MIB)
    stored: StoredBlob | None = None
    try:
        fmt = detect_format(upload.filename, upload.content_type, upload.head)
        dataset_id = new_id()
        key = f"{DATASETS_SUBDIR}/{dataset_id}{STORED_SUFFIX}"
        summary, stored = await request.app[OFFLOAD].run(
            reader.user_id, store_upload, upload.path, fmt, blobs.data, key, max_columns=settings.data.max_columns
        )
        assert stored is not None
        uri = stored.uri
        await asyncio.to_thread(remove_quietly, upload.path)
        name = upload.name or _display_name(upload.filename) or f"dataset-{dataset_id[:8]}"
        async with request.app[SESSIONS].begin() as session:
            quota = settings.data.max_bytes_per_user
            if quota:
                used = await stored_bytes_of(session, reader.user_id, lock=True)
                if used + summary.stored_bytes > quota:
                    raise _over_quota(settings, used, summary.stored_bytes)
            row = await create_dataset(
                session,
                owner_id=reader.user_id,
                name=name[:255],
                storage_uri=uri,
                format=fmt,
                n_rows=summary.n_rows,
                columns=summary.columns,
                sha256=upload.sha256,
                dataset_id=dataset_id,
                storage_format="parquet",
                storage_sha256=summary.sha256,
                stored_bytes=summary.stored_bytes,
                preview=summary.preview,
            )
        return web.json_response(dataset_json(row), status=201)
    except BaseException:
        await asyncio.to_thread(remove_quietly, upload.path)
        if stored is not None:  # parsed and stored, then refused (quota) or interrupted: no row names it
            await asyncio.to_thread(_delete_quietly, blobs.data, stored.key)
        raise


async def list_datasets(request: web.Request) -> web.Response:
    query = parse_query(request, DatasetListQuery)
    async with read_session(request.app[SESSIONS]) as session:
        page = await page_datasets(session, reader=reader_of(request), limit=query.limit, cursor=query.cursor)
    return web.json_response({"items": [dataset_json(r) for r in page.items], "next_cursor": page.next_cursor})


async def get_dataset_detail(request: web.Request) -> web.Response:
    reader = reader_of(request)
    async with read_session(request.app[SESSIONS]) as session:
        row = await get_dataset(session, request.match_info["dataset_id"], reader=reader)
    if row.preview is not None:  # stored at upload: no parse
        return web.json_response({**dataset_json(row), "preview": row.preview})
    store = request.app[BLOBS].data
    try:
        rows = await request.app[OFFLOAD].run(
            reader.user_id or "admin", _stored_preview, store, row.storage_uri, row.storage_format or row.format
        )
    except BlobError as exc:
        if exc.code not in ("blob_missing", "blob_outside_root"):
            raise
        raise NotFoundError("the dataset's file is missing from storage", code="dataset_file_missing") from None
    return web.json_response({**dataset_json(row), "preview": rows})


def _stored_preview(store: BlobStore, storage_uri: str, fmt: str) -> list[dict[str, Any]]:
    with store.local_file(store.key(storage_uri)) as path:
        return legacy_preview(path, fmt)


def _delete_quietly(store: BlobStore, key: str) -> None:
    """Remove a stored object; a failure is logged (an object no row names is never served)."""
    try:
        store.delete(key)
    except BlobError as exc:
        log.warning("the stored object %s stays: %s", key, exc)


async def remove_dataset(request: web.Request) -> web.Response:
    store = request.app[BLOBS].data
    async with request.app[SESSIONS].begin() as session:
        row = await delete_dataset(session, request.match_info["dataset_id"], reader=reader_of(request))
        storage_uri = row.storage_uri
    try:
        key = store.key(storage_uri)
    except BlobError:  # a row naming something outside the data root never deletes it
        log.warning("dataset %s deleted; its file %s lies outside the data root and stays", row.id, storage_uri)
    else:
        await asyncio.to_thread(_delete_quietly, store, key)
    return web.Response(status=204)


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
        errors=(429,),
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
    Operation(
        "DELETE",
        "/datasets/{dataset_id}",
        remove_dataset,
        "delete_dataset",
        "Delete a dataset and its stored file (409 while a job runs on it or pipelines start from it)",
        "datasets",
        {204: None},
        path_params=_ID,
        errors=(409,),
    ),
]
