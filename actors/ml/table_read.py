"""Reading a dataset file for training: in full, or a seeded sample taken while streaming.

A file above ``max_full_rows`` rows is never held whole: batches of at most
:data:`CHUNK_ROWS` rows are read one after the other and each keeps only its share of the
sample, so memory is bounded by the sample (plus one batch), not by the file.

The sample is uniform over the file and has exactly ``sample_rows`` rows in file order.
It is drawn with ``numpy.random.default_rng(seed)``: for each batch, a hypergeometric
draw decides how many of the rows still needed come from it, then which ones. The same
file and seed always give the same rows (this replaced ``DataFrame.sample``, whose
permutation of every row index cost memory proportional to the file).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from actors.ml.csv_table import typed_batches

CHUNK_ROWS = 65_536
_NO_COLUMN_LIMIT = 1 << 30  # a stored file was checked at upload


@dataclass(frozen=True)
class ReadFrame:
    """A frame read for training and how many rows the file had."""

    frame: pd.DataFrame
    total_rows: int
    sampled: bool


def _source(path: str, fmt: str) -> tuple[pa.Schema, int, Iterator[pa.RecordBatch]]:
    if fmt == "parquet":
        # No pre-buffering: it would read every column chunk of the file before the first batch.
        parquet = pq.ParquetFile(path, pre_buffer=False)
        batches = parquet.iter_batches(batch_size=CHUNK_ROWS, use_threads=False)
        return parquet.schema_arrow, parquet.metadata.num_rows, batches
    schema, rows, batches = typed_batches(Path(path), _NO_COLUMN_LIMIT)
    return schema, rows, batches


def read_batches(path: str, fmt: str) -> tuple[pa.Schema, int, Iterator[pa.RecordBatch]]:
    """The schema, the row count and the record batches of a stored file, read one batch at a time.

    Batches hold at most :data:`CHUNK_ROWS` rows for Parquet (a CSV block for CSV files).

    Raises:
        actors.errors.TableError: a CSV file that cannot be parsed.
        pyarrow.ArrowException, OSError: an unreadable Parquet file.
    """
    return _source(path, fmt)


def sample_batches(
    batches: Iterator[pa.RecordBatch], total: int, size: int, seed: int
) -> Iterator[pa.RecordBatch]:
    """The rows of a uniform sample of ``size`` of the ``total`` rows, in order, batch by batch."""
    rng = np.random.default_rng(seed)
    need, remaining = min(size, total), total
    for batch in batches:
        rows = batch.num_rows
        if need == 0:
            break
        if rows == 0:
            continue
        take = int(rng.hypergeometric(rows, remaining - rows, need)) if remaining > rows else need
        remaining -= rows
        if take:
            picked = np.sort(rng.choice(rows, size=take, replace=False))
            need -= take
            yield batch.take(pa.array(picked))


def read_frame(path: str, fmt: str, *, max_full_rows: int, sample_rows: int, seed: int) -> ReadFrame:
    """The file at ``path`` (``"parquet"`` or ``"csv"``) as a frame, sampled when too long.

    Raises:
        actors.errors.TableError: a CSV file that cannot be parsed.
        pyarrow.ArrowException, OSError: an unreadable Parquet file.
    """
    schema, total, batches = _source(path, fmt)
    sampled = total > max_full_rows
    if sampled:
        batches = sample_batches(batches, total, sample_rows, seed)
    table = pa.Table.from_batches(list(batches), schema=schema)
    frame = table.to_pandas()
    del table
    return ReadFrame(frame, total, sampled)
