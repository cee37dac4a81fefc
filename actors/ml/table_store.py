"""Writing a dataset's stored form: one Parquet file and its summary, computed once at upload.

An uploaded CSV is parsed by :mod:`actors.ml.csv_table` and an uploaded Parquet file is
re-written batch by batch, so that every stored file has typed columns, bounded row groups
and no pandas index columns. The summary (row count, pandas dtypes, a JSON-ready preview)
is computed in the same pass; nothing here holds more than one batch of rows.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from actors.errors import TableError
from actors.ml.csv_table import check_quotes_closed, too_many_columns, typed_batches
from store.blobs import BlobWriter

ROW_GROUP_ROWS = 65_536
PREVIEW_ROWS = 20
PREVIEW_TEXT_CHARS = 1000
_SCAN_BYTES = 1 << 20
_INDEX_COLUMN = re.compile(r"^__index_level_\d+__$")


@dataclass(frozen=True)
class TableSummary:
    """What the upload stores beside the file.

    Attributes:
        n_rows: Records in the file.
        columns: ``[{name, dtype}]`` with the pandas dtype a worker's frame will have
            (and ``integral`` for float columns).
        preview: The first rows, JSON-ready (numbers exact, NaN and infinities null).
        stored_bytes: Size of the stored Parquet file.
        sha256: sha256 of the stored Parquet file.
    """

    n_rows: int
    columns: list[dict[str, Any]]
    preview: list[dict[str, Any]]
    stored_bytes: int
    sha256: str


def check_text(path: Path) -> None:
    """Refuse a text file holding a NUL byte (binary data; PostgreSQL refuses NUL in text)
    or ending inside a quoted value (Arrow would take the rest of the file as that value).

    Raises:
        TableError: naming the byte offset, or the line where the open quote starts.
    """
    offset, quotes = 0, 0
    with path.open("rb") as fh:
        while chunk := fh.read(_SCAN_BYTES):
            if (at := chunk.find(b"\x00")) >= 0:
                raise TableError(
                    f"the CSV file contains a NUL byte at byte {offset + at}: binary data is not CSV text",
                    details={"byte": offset + at},
                )
            quotes += chunk.count(b'"')
            offset += len(chunk)
    if quotes % 2:  # rare: an unclosed quote, or a bare quote inside an unquoted value
        check_quotes_closed(path)


def _parquet_batches(path: Path, max_columns: int) -> tuple[pa.Schema, int, Iterator[pa.RecordBatch]]:
    try:
        parquet = pq.ParquetFile(path, pre_buffer=False)  # read batch by batch, not the whole file first
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        raise TableError(f"the Parquet file cannot be parsed: {str(exc)[:300]}") from None
    keep = [name for name in schema.names if not _INDEX_COLUMN.match(name)]
    if len(keep) > max_columns:
        raise too_many_columns(len(keep), max_columns)
    if len(set(keep)) != len(keep):
        raise TableError("the Parquet file has duplicate column names")
    if any("\x00" in name for name in keep):
        raise TableError("a column name contains a NUL character")
    typed = pa.schema([schema.field(name) for name in keep])  # no pandas metadata: the index is not data

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for batch in parquet.iter_batches(batch_size=ROW_GROUP_ROWS, columns=keep, use_threads=False):
                yield pa.RecordBatch.from_arrays(batch.columns, schema=typed)
        except (pa.ArrowException, OSError) as exc:
            raise TableError(f"the Parquet file cannot be parsed: {str(exc)[:300]}") from None

    return typed, parquet.metadata.num_rows, batches()


def pandas_dtypes(schema: pa.Schema, null_counts: list[int], integral: list[bool]) -> list[dict[str, Any]]:
    """``[{name, dtype}]`` as pandas names the columns once the table is a frame; float
    columns also say whether every value is ``integral`` (the submit-time task check reads it)."""
    frame = schema.empty_table().to_pandas()
    out: list[dict[str, Any]] = []
    for field, dtype, nulls, whole in zip(schema, frame.dtypes, null_counts, integral, strict=True):
        column: dict[str, Any] = {"name": field.name, "dtype": str(dtype)}
        if nulls and pa.types.is_integer(field.type):
            column["dtype"] = "float64"
        elif nulls and pa.types.is_boolean(field.type):
            column["dtype"] = "object"
        if column["dtype"].startswith("float"):
            column["integral"] = whole
        out.append(column)
    return out


def _all_integral(column: pa.Array) -> bool:
    if pa.types.is_integer(column.type):
        return True
    if not pa.types.is_floating(column.type):
        return False
    whole = pc.and_(pc.is_finite(column), pc.equal(pc.floor(column), column))
    return bool(pc.all(whole).as_py() is not False)


def _json_value(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value[:PREVIEW_TEXT_CHARS]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value[:PREVIEW_TEXT_CHARS].decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value[:PREVIEW_ROWS]]
    return value


def preview_records(batches: list[pa.RecordBatch], schema: pa.Schema) -> list[dict[str, Any]]:
    """The rows of ``batches`` as JSON-ready records; floats are the exact stored values."""
    rows = pa.Table.from_batches(batches, schema=schema).to_pylist() if batches else []
    return [{str(key): _json_value(value) for key, value in row.items()} for row in rows]


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_SCAN_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def store_table(source: Path, fmt: str, dest: BlobWriter, *, max_columns: int) -> TableSummary:
    """Parse ``source`` (``"csv"`` or ``"parquet"``) once and stream it to ``dest`` as Parquet.

    ``dest`` is a storage writer (:meth:`store.blobs.BlobStore.writer`): the stored file's
    size and sha256 are counted as it streams, and the caller commits it.

    Raises:
        TableError: the file is empty, malformed, or has more than ``max_columns`` columns.
    """
    if fmt == "csv":
        check_text(source)
        schema, rows, batches = typed_batches(source, max_columns)
    else:
        schema, rows, batches = _parquet_batches(source, max_columns)
    if len(schema) == 0:
        raise TableError("the file has no columns", code="empty_dataset")
    null_counts = [0] * len(schema)
    integral = [True] * len(schema)
    head: list[pa.RecordBatch] = []
    kept = 0
    with pq.ParquetWriter(dest, schema) as writer:
        for batch in batches:
            writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
            for index, column in enumerate(batch.columns):
                null_counts[index] += column.null_count
                integral[index] = integral[index] and _all_integral(column)
            if kept < PREVIEW_ROWS and batch.num_rows:
                head.append(batch.slice(0, PREVIEW_ROWS - kept))
                kept += head[-1].num_rows
    return TableSummary(
        n_rows=rows,
        columns=pandas_dtypes(schema, null_counts, integral),
        preview=preview_records(head, schema),
        stored_bytes=dest.size,
        sha256=dest.sha256,
    )
