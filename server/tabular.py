"""Reading uploaded CSV and Parquet files: format detection, schema, preview.

These functions block (pandas, pyarrow); call them in a worker thread. Parse failures
raise :class:`~server.errors.UnprocessableEntity` with the line and column where known.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from server.errors import UnprocessableEntity

PARQUET_MAGIC = b"PAR1"
PREVIEW_ROWS = 20
DEFAULT_MAX_COLUMNS = 2000
OTHER_DELIMITERS = (";", "\t", "|")
_SCAN_BYTES = 1 << 20
_LINE = re.compile(r"\bline (\d+)")
_COLUMN = re.compile(r"\bcolumn (\d+)")


@dataclass(frozen=True)
class TableInfo:
    """The schema of a parsed dataset."""

    n_rows: int
    columns: list[dict[str, Any]]


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


def _parse_error(exc: Exception, what: str) -> UnprocessableEntity:
    text = str(exc).strip() or type(exc).__name__
    details: dict[str, Any] = {"field": "file"}
    if line := _LINE.search(text):
        details["line"] = int(line.group(1))
    if column := _COLUMN.search(text):
        details["column"] = int(column.group(1))
    return UnprocessableEntity(f"the {what} file cannot be parsed: {text}", code="parse_error", details=details)


def _check_no_nul(path: Path) -> None:
    # A text file never holds NUL bytes; PostgreSQL would refuse them in column names.
    offset = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_SCAN_BYTES):
            if (at := chunk.find(b"\x00")) >= 0:
                raise UnprocessableEntity(
                    f"the CSV file contains a NUL byte at byte {offset + at}: binary data is not CSV text",
                    code="parse_error",
                    details={"field": "file", "byte": offset + at},
                )
            offset += len(chunk)


def _too_many_columns(count: int, max_columns: int) -> UnprocessableEntity:
    return UnprocessableEntity(
        f"the file has {count} columns; at most {max_columns} are accepted (data.max_columns)",
        code="too_many_columns",
        details={"field": "file", "columns": count, "limit": max_columns},
    )


def _check_header(path: Path, max_columns: int) -> None:
    with path.open("r", encoding="utf-8", newline="") as fh:
        try:
            header = next(csv.reader(io.StringIO(fh.readline())), [])
        except csv.Error as exc:
            raise _parse_error(exc, "CSV") from None
    if len(header) > max_columns:
        raise _too_many_columns(len(header), max_columns)
    if len(header) == 1 and (other := next((d for d in OTHER_DELIMITERS if d in header[0]), None)):
        shown = "TAB" if other == "\t" else repr(other)
        raise UnprocessableEntity(
            f"the header is one column containing {shown}: the file looks {shown}-separated; "
            "upload comma-separated values",
            code="wrong_delimiter",
            details={"field": "file", "line": 1, "delimiter": other},
        )
    seen: set[str] = set()
    for index, name in enumerate(header, start=1):
        if name.strip() in seen:
            raise UnprocessableEntity(
                f"duplicate column name {name!r} in the header",
                code="parse_error",
                details={"field": "file", "line": 1, "column": index},
            )
        seen.add(name.strip())


def column_schema(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``[{name, dtype}]`` per column; float columns also say whether every value is ``integral``.

    ``integral`` lets a submission refuse a classification task on a target of measured
    (non-integer) numbers before any worker reads the file.
    """
    out: list[dict[str, Any]] = []
    for name, dtype in frame.dtypes.items():
        column: dict[str, Any] = {"name": str(name), "dtype": str(dtype)}
        if pd.api.types.is_float_dtype(dtype):
            values = frame[name].dropna().to_numpy(dtype=np.float64)
            column["integral"] = bool(np.all(np.mod(values, 1.0) == 0.0))
        out.append(column)
    return out


def read_table(path: Path, fmt: str, *, max_columns: int = DEFAULT_MAX_COLUMNS) -> TableInfo:
    """Parse the whole file and return its row count and column schema.

    Raises:
        UnprocessableEntity: the file is empty, has no columns or more than ``max_columns``,
            holds NUL bytes or another delimiter than the comma (CSV), or cannot be parsed.
    """
    try:
        if fmt == "parquet":
            if (count := len(pq.read_schema(path).names)) > max_columns:
                raise _too_many_columns(count, max_columns)
            frame = pq.read_table(path).to_pandas()
        else:
            _check_no_nul(path)
            _check_header(path, max_columns)
            frame = pd.read_csv(path, encoding="utf-8", low_memory=False)
    except UnprocessableEntity:
        raise
    except UnicodeDecodeError as exc:
        raise UnprocessableEntity(
            f"the CSV file is not UTF-8 text (byte {exc.start})",
            code="parse_error",
            details={"field": "file", "byte": exc.start},
        ) from None
    except pd.errors.EmptyDataError:
        raise UnprocessableEntity("the file is empty", code="empty_dataset", details={"field": "file"}) from None
    except (pd.errors.ParserError, pa.ArrowException, csv.Error, ValueError, OSError) as exc:
        raise _parse_error(exc, fmt.upper() if fmt == "csv" else "Parquet") from None
    if frame.shape[1] == 0:
        raise UnprocessableEntity("the file has no columns", code="empty_dataset", details={"field": "file"})
    if any("\x00" in str(name) for name in frame.columns):
        raise UnprocessableEntity(
            "a column name contains a NUL character", code="parse_error", details={"field": "file"}
        )
    return TableInfo(n_rows=int(frame.shape[0]), columns=column_schema(frame))


def preview(path: Path, fmt: str, rows: int = PREVIEW_ROWS) -> list[dict[str, Any]]:
    """The first ``rows`` rows as JSON-ready records (NaN becomes null, dates ISO 8601)."""
    if fmt == "parquet":
        parquet = pq.ParquetFile(path)
        batch = next(parquet.iter_batches(batch_size=rows), None)
        frame = batch.to_pandas() if batch is not None else parquet.schema_arrow.empty_table().to_pandas()
    else:
        frame = pd.read_csv(path, encoding="utf-8", nrows=rows)
    frame.columns = [str(c) for c in frame.columns]
    records: list[dict[str, Any]] = json.loads(frame.head(rows).to_json(orient="records", date_format="iso"))
    return records
