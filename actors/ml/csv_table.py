"""The one CSV reader: shape-checked text batches, a schema inferred over every row, typed batches.

The upload (web process) and the worker both read CSV through this module, so they infer
the same schema. The file is streamed twice, one block at a time, and never held whole:

1. every cell is read as text while each record's field count is checked against the
   header (the first bad record is an error naming its line), and each column's kind is
   inferred over all rows (:func:`infer_kinds`);
2. the text batches are read again and converted with :func:`convert_batch`.

Numbers are parsed by Arrow's round-trip-exact float parser, so a cell reaches the model
exactly as Python's ``float()`` reads its text (pandas' default parser is off by an ulp for
about a third of 17-digit values). Kinds follow pandas' defaults: integers (float when a
value is missing), floats, booleans (``True``/``true``/``TRUE`` and the ``False`` forms),
otherwise text; dates stay text. Missing-value markers are pandas' default ``na_values``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from actors.errors import TableError

BLOCK_BYTES = 1 << 20
MAX_HEADER_BYTES = 8 << 20
OTHER_DELIMITERS = (";", "\t", "|")
NULL_TEXTS = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)
TRUE_TEXTS = ("True", "true", "TRUE")
FALSE_TEXTS = ("False", "false", "FALSE")
_NULLS = pa.array(NULL_TEXTS)
_BOOLS = pa.array(TRUE_TEXTS + FALSE_TEXTS)
_TRUES = pa.array(TRUE_TEXTS)
_INTEGER = r"^-?[0-9]+$"  # Arrow's integer cast also takes hexadecimal, which float() does not


class Kind(IntEnum):
    """A column's inferred kind; a wider kind holds every value of a narrower one."""

    NULL = 0
    INT = 1
    FLOAT = 2
    BOOL = 3
    TEXT = 4


def _join(a: Kind, b: Kind) -> Kind:
    if a == b or b is Kind.NULL:
        return a
    if a is Kind.NULL:
        return b
    if {a, b} == {Kind.INT, Kind.FLOAT}:
        return Kind.FLOAT
    return Kind.TEXT


@dataclass(frozen=True)
class ColumnKind:
    """What :func:`infer_kinds` learnt of one column."""

    kind: Kind
    has_null: bool

    @property
    def arrow_type(self) -> pa.DataType:
        """The stored type; an integer column with a missing value is float, as in pandas."""
        if self.kind is Kind.INT:
            return pa.float64() if self.has_null else pa.int64()
        if self.kind in (Kind.FLOAT, Kind.NULL):
            return pa.float64()
        return pa.bool_() if self.kind is Kind.BOOL else pa.string()


def read_header(path: Path, max_columns: int) -> list[str]:
    """The column names of the first line, checked (count, delimiter, duplicates, NUL).

    Raises:
        TableError: an empty file, a bad header, or more than ``max_columns`` names.
    """
    with path.open("rb") as fh:
        first = fh.readline(MAX_HEADER_BYTES + 1)
    if len(first) > MAX_HEADER_BYTES:
        raise TableError(f"the header line is longer than {MAX_HEADER_BYTES >> 20} MB", details={"line": 1})
    if not first.strip():
        raise TableError("the file is empty", code="empty_dataset")
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TableError(f"the CSV file is not UTF-8 text (byte {exc.start})", details={"byte": exc.start}) from None
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error as exc:
        raise TableError(f"the header cannot be parsed: {exc}", details={"line": 1}) from None
    if len(header) > max_columns:
        raise too_many_columns(len(header), max_columns)
    if len(header) == 1 and (other := next((d for d in OTHER_DELIMITERS if d in header[0]), None)):
        shown = "TAB" if other == "\t" else repr(other)
        raise TableError(
            f"the header is one column containing {shown}: the file looks {shown}-separated; "
            "upload comma-separated values",
            code="wrong_delimiter",
            details={"line": 1, "delimiter": other},
        )
    names = [name if name.strip() else f"Unnamed: {i}" for i, name in enumerate(header)]
    seen: set[str] = set()
    for index, name in enumerate(names, start=1):
        if "\x00" in name:
            raise TableError("a column name contains a NUL character", details={"line": 1, "column": index})
        if name.strip() in seen:
            raise TableError(f"duplicate column name {name!r} in the header", details={"line": 1, "column": index})
        seen.add(name.strip())
    return names


def too_many_columns(count: int, max_columns: int) -> TableError:
    """The error for a file wider than ``data.max_columns``."""
    return TableError(
        f"the file has {count} columns; at most {max_columns} are accepted (data.max_columns)",
        code="too_many_columns",
        details={"columns": count, "limit": max_columns},
    )


def check_quotes_closed(path: Path) -> None:
    """Refuse a file that ends inside a quoted value, naming the line where the value starts.

    Raises:
        TableError: the quote opened on that line is never closed.
    """
    with path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
        reader = csv.reader(fh, strict=True)
        start = 1
        while True:
            try:
                next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if "unexpected end of data" in str(exc):
                    raise TableError(
                        f"line {start}: a quoted value is never closed (the file ends inside it)",
                        details={"line": start},
                    ) from None
            start = reader.line_num + 1


def text_batches(path: Path, names: list[str]) -> Iterator[pa.RecordBatch]:
    """Every record after the header as a batch of text columns (``None`` never appears).

    Raises:
        TableError: a record whose field count differs from the header's (naming its line),
            text that is not UTF-8, or an unterminated quote.
    """
    bad: list[pacsv.InvalidRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append(row)
        return "error"

    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=BLOCK_BYTES, use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names}, null_values=[], strings_can_be_null=False
            ),
        )
        yield from reader
    except pa.ArrowInvalid as exc:
        if bad:
            raise _shape_error(bad[0], len(names)) from None
        raise _arrow_error(exc) from None


def _shape_error(row: pacsv.InvalidRow, expected: int) -> TableError:
    line = row.number
    where = f"line {line}" if line is not None else "a line"
    return TableError(
        f"{where} has {row.actual_columns} fields but the header has {expected}; "
        "every line must have exactly the header's field count",
        code="parse_error",
        details={"line": line, "fields": row.actual_columns, "expected": expected},
    )


def _arrow_error(exc: pa.ArrowInvalid) -> TableError:
    text = str(exc).strip()
    if "UTF8" in text or "UTF-8" in text:
        return TableError("the CSV file is not UTF-8 text", details={"reason": text[:300]})
    return TableError(f"the CSV file cannot be parsed: {text[:300]}")


def _present(raw: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The trimmed text and the mask of cells that hold a value (not a missing marker)."""
    trimmed = pc.utf8_trim_whitespace(raw)
    missing = pc.or_(pc.is_in(raw, value_set=_NULLS), pc.equal(trimmed, ""))
    return trimmed, pc.invert(missing)


def _castable(values: pa.Array, to: pa.DataType) -> bool:
    try:
        values.cast(to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def _batch_kind(raw: pa.Array, known: Kind) -> tuple[Kind, bool]:
    trimmed, present = _present(raw)
    values = trimmed.filter(present)
    has_null = len(values) < len(raw)
    if len(values) == 0:
        return Kind.NULL, has_null
    if known <= Kind.INT and pc.all(pc.match_substring_regex(values, _INTEGER)).as_py() and _castable(
        values, pa.int64()
    ):
        return Kind.INT, has_null
    if known in (Kind.NULL, Kind.BOOL) and pc.all(pc.is_in(values, value_set=_BOOLS)).as_py():
        return Kind.BOOL, has_null
    if known <= Kind.FLOAT and _castable(values, pa.float64()):
        return Kind.FLOAT, has_null
    return Kind.TEXT, has_null


def infer_kinds(path: Path, names: list[str]) -> tuple[list[ColumnKind], int]:
    """Each column's kind over every record, and the record count (one streamed pass)."""
    kinds = [Kind.NULL] * len(names)
    nulls = [False] * len(names)
    rows = 0
    for batch in text_batches(path, names):
        rows += batch.num_rows
        for index, column in enumerate(batch.columns):
            if kinds[index] is Kind.TEXT:
                continue
            kind, has_null = _batch_kind(column, kinds[index])
            kinds[index] = _join(kinds[index], kind)
            nulls[index] = nulls[index] or has_null
    if rows == 0:  # a header without records: text columns, as pandas reads them
        return [ColumnKind(Kind.TEXT, False) for _ in names], 0
    return [ColumnKind(kind, has_null) for kind, has_null in zip(kinds, nulls, strict=True)], rows


def arrow_schema(names: list[str], kinds: list[ColumnKind]) -> pa.Schema:
    """The typed schema the batches are converted to."""
    return pa.schema([pa.field(name, kind.arrow_type) for name, kind in zip(names, kinds, strict=True)])


def _convert(raw: pa.Array, kind: ColumnKind) -> pa.Array:
    if kind.kind is Kind.TEXT:
        return pc.if_else(pc.is_in(raw, value_set=_NULLS), pa.scalar(None, pa.string()), raw)
    trimmed, present = _present(raw)
    if kind.kind is Kind.BOOL:
        return pc.if_else(present, pc.is_in(trimmed, value_set=_TRUES), pa.scalar(None, pa.bool_()))
    target = kind.arrow_type
    safe = pc.if_else(present, trimmed, pa.scalar("0"))
    typed = safe.cast(pa.int64() if kind.kind is Kind.INT else pa.float64()).cast(target)
    return pc.if_else(present, typed, pa.scalar(None, target))


def convert_batch(batch: pa.RecordBatch, schema: pa.Schema, kinds: list[ColumnKind]) -> pa.RecordBatch:
    """A text batch converted to ``schema`` with the kinds :func:`infer_kinds` found."""
    columns = [_convert(column, kind) for column, kind in zip(batch.columns, kinds, strict=True)]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def typed_batches(path: Path, max_columns: int) -> tuple[pa.Schema, int, Iterator[pa.RecordBatch]]:
    """The schema, the record count and the typed batches of a CSV file (two streamed passes).

    Raises:
        TableError: the file is empty or malformed (see :func:`read_header`, :func:`text_batches`).
    """
    names = read_header(path, max_columns)
    kinds, rows = infer_kinds(path, names)
    schema = arrow_schema(names, kinds)
    return schema, rows, (convert_batch(batch, schema, kinds) for batch in text_batches(path, names))
