"""Uploaded CSV and Parquet files: format detection, and parsing them once into the stored form.

These functions block (pyarrow); run them in the offload executor. Parse failures raise
:class:`~server.errors.UnprocessableEntity` on the ``file`` field with the line and column
where known.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from actors.errors import TableError
from actors.ml.csv_table import typed_batches
from actors.ml.table_store import PREVIEW_ROWS, TableSummary, preview_records, store_table
from server.errors import UnprocessableEntity
from store.blobs import BlobStore, StoredBlob

PARQUET_MAGIC = b"PAR1"
DEFAULT_MAX_COLUMNS = 2000


def detect_format(filename: str, content_type: str, head: bytes) -> str:
    """``"parquet"`` or ``"csv"``, from the magic bytes, the file name, then the content type.

    Raises:
        UnprocessableEntity: the file is neither CSV nor Parquet.
    """
    lower = filename.lower()
    if head.startswith(PARQUET_MAGIC) or lower.endswith((".parquet", ".pq")):
        return "parquet"
    if lower.endswith((".csv", ".txt")) or content_type in {"text/csv", "application/csv", "text/plain"}:
        return "csv"
    if not filename and content_type in {"", "application/octet-stream"}:
        return "csv"
    raise UnprocessableEntity(
        f"unsupported file type {filename or content_type!r}; upload a .csv or .parquet file",
        code="unsupported_format",
        details={"field": "file"},
    )


def _refusal(exc: TableError) -> UnprocessableEntity:
    details: dict[str, Any] = {"field": "file", **{k: v for k, v in exc.details.items() if v is not None}}
    return UnprocessableEntity(exc.message, code=exc.code, details=details)


def store_upload(
    source: Path, fmt: str, store: BlobStore, key: str, *, max_columns: int = DEFAULT_MAX_COLUMNS
) -> tuple[TableSummary, StoredBlob]:
    """Parse the uploaded ``source`` once, stream it to ``key`` in ``store`` as Parquet,
    return its summary and the committed object.

    Every CSV record must have the header's field count (so ``max_columns`` holds for
    every line), numbers are parsed exactly, and nothing holds more than one block.

    Raises:
        UnprocessableEntity: the file is empty, has no columns or more than ``max_columns``,
            holds NUL bytes or another delimiter than the comma (CSV), or cannot be parsed.
    """
    try:
        with store.writer(key) as out:
            summary = store_table(source, fmt, out, max_columns=max_columns)
    except TableError as exc:
        raise _refusal(exc) from None
    assert out.result is not None
    return summary, out.result


def legacy_preview(path: Path, fmt: str, rows: int = PREVIEW_ROWS) -> list[dict[str, Any]]:
    """The first rows of a file stored before summaries were (rows without a stored preview)."""
    try:
        if fmt == "parquet":
            parquet = pq.ParquetFile(path)
            schema: pa.Schema = parquet.schema_arrow
            batches = list(itertools.islice(parquet.iter_batches(batch_size=rows), 1))
        else:
            schema, _, stream = typed_batches(path, 1 << 30)
            batches = list(itertools.islice(stream, 1))
    except TableError as exc:
        raise _refusal(exc) from None
    return preview_records([b.slice(0, rows) for b in batches], schema)
