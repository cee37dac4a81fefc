"""Batch predictions: a stored dataset through a portable model, chunk by chunk, to CSV or Parquet.

The input is read one record batch at a time (``actors.ml.table_read.read_batches``), each
batch goes through the model as the pandas frame training would have read, and its rows
are written at once with the prediction (and, for classifiers, one probability column per
class) appended to the input's own columns, in the input's own Arrow types. Memory is
bounded by one batch, whatever the file's length. The output is written to a temporary
file and renamed into place, so a stopped or failed job leaves no partial file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from actors.errors import DatasetError, TableError
from actors.ml.artifacts import write_object
from actors.ml.checkpoints import Checkpoint
from actors.ml.table_read import CHUNK_ROWS, read_batches
from store.blobs import BlobStore

FORMATS = ("csv", "parquet")
PREDICTION = "prediction"
PROBABILITY = "probability_"


@dataclass(frozen=True)
class PredictionsWritten:
    """What a batch-prediction run wrote.

    Attributes:
        uri: Where the output was stored (the URI rows record).
        sha256: sha256 of the output file.
        rows: Rows predicted (all the input's).
        columns: Output column names, the input's first.
        prediction_column: Name of the prediction column.
        probability_columns: Class label -> its probability column (classifiers only).
    """

    uri: str
    sha256: str
    rows: int
    columns: list[str]
    prediction_column: str
    probability_columns: dict[str, str]


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 1
    while candidate in taken:  # the input may hold a column of that name (e.g. an earlier output)
        number += 1
        candidate = f"{name}_{number}"
    taken.add(candidate)
    return candidate


class _Layout:
    """The output schema: the input's columns, then the prediction and the probabilities."""

    def __init__(self, model: Any, schema: pa.Schema) -> None:
        taken = set(schema.names)
        self.classes: list[Any] | None = None
        classes = getattr(model, "classes_", None)
        if classes is not None and hasattr(model, "predict_proba"):
            self.classes = list(np.asarray(classes))
        self.prediction = _unique(PREDICTION, taken)
        label_type = pa.array(self.classes).type if self.classes is not None else pa.float64()
        self.probabilities = {str(c): _unique(f"{PROBABILITY}{c}", taken) for c in self.classes or []}
        fields = [pa.field(self.prediction, label_type)]
        fields += [pa.field(name, pa.float64()) for name in self.probabilities.values()]
        self.schema = pa.schema([*schema, *fields])
        self.label_type = label_type

    def predict(self, model: Any, batch: pa.RecordBatch) -> pa.RecordBatch:
        frame = batch.to_pandas()
        arrays = list(batch.columns)
        if self.classes is None:
            arrays.append(pa.array(np.asarray(model.predict(frame), dtype=np.float64)))
        else:
            proba = np.asarray(model.predict_proba(frame), dtype=np.float64)
            # The first argmax of the probabilities is what the pipeline's predict returns.
            labels = np.asarray(model.classes_)[np.argmax(proba, axis=1)]
            arrays.append(pa.array(labels, type=self.label_type))
            arrays.extend(pa.array(proba[:, k]) for k in range(proba.shape[1]))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def predict_file(
    model: Any, source_path: str, source_format: str, store: BlobStore, key: str, output_format: str,
    checkpoint: Checkpoint, *, chunk_rows: int = CHUNK_ROWS,
) -> PredictionsWritten:
    """Predict every row of the local file at ``source_path`` and store the output under ``key``.

    Args:
        model: A loaded portable pipeline (``actors.ml.artifacts.load_model``).
        source_path: The stored input dataset.
        source_format: ``"csv"`` or ``"parquet"``.
        store: The storage the output goes to (committed only once complete).
        key: The output's key in ``store``.
        output_format: ``"csv"`` or ``"parquet"``.
        checkpoint: Checked before each chunk; progress is reported in rows.
        chunk_rows: The most rows predicted at once (a read batch is sliced to it).

    Raises:
        DatasetError: an unreadable input, or rows the model cannot take (a missing column...).
        JobCancelled / DeadlineExceeded: the checkpoint fired; nothing is committed.
        ArtifactError: the output could not be stored.
    """
    if output_format not in FORMATS:
        raise DatasetError(f"unknown output format {output_format!r}; use csv or parquet", field="format")
    try:
        schema, total, batches = read_batches(source_path, source_format)
    except TableError as exc:
        raise DatasetError(f"cannot parse {source_format} dataset: {exc.message}", field="dataset_id",
                           details=exc.details) from exc
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(f"cannot read dataset file: {exc}", field="dataset_id") from exc
    layout = _Layout(model, schema)
    done = 0

    def write(handle: IO[bytes]) -> None:
        nonlocal done
        writer: Any = (pq.ParquetWriter(handle, layout.schema) if output_format == "parquet"
                       else pacsv.CSVWriter(handle, layout.schema))
        try:
            checkpoint.progress("predict", 0, total, "rows")
            for batch in batches:
                for offset in range(0, batch.num_rows, chunk_rows):
                    chunk = batch.slice(offset, chunk_rows)
                    checkpoint.check(f"predictions at row {done}")
                    writer.write_batch(_predicted(layout, model, chunk, done))
                    done += chunk.num_rows
                    checkpoint.progress("predict", done, total, "rows")
        finally:
            writer.close()

    stored = write_object(store, key, write, what="store predictions", failures=(OSError,))
    return PredictionsWritten(stored.uri, stored.sha256, done, list(layout.schema.names), layout.prediction,
                              layout.probabilities)


def _predicted(layout: _Layout, model: Any, batch: pa.RecordBatch, first_row: int) -> pa.RecordBatch:
    try:
        return layout.predict(model, batch)
    except (KeyError, ValueError, TypeError) as exc:  # the rows do not fit the model's inputs
        raise DatasetError(f"rows from {first_row} cannot be predicted: {type(exc).__name__}: {exc}",
                           field="dataset_id", details={"first_row": first_row,
                                                        "exception": type(exc).__name__}) from exc
