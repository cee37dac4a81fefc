"""Loading the job's dataset (Parquet, or CSV through the one CSV reader), sampled when too big."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from actors.errors import DatasetError, TableError
from actors.ml.options import DatasetRef, FitOptions
from actors.ml.table_read import ReadFrame, read_frame
from actors.ml.table_store import file_sha256 as _file_sha256


def file_sha256(path: str) -> str:
    """Hex sha256 of a file, read in chunks."""
    return _file_sha256(Path(path))


@dataclass
class LoadedDataset:
    """A dataset read for one job.

    Attributes:
        frame: The rows used (all of them, or the seeded sample), index 0..n-1.
        sha256: sha256 of the file.
        total_rows: Rows in the file.
        sampled: Whether ``frame`` is a sample.
        warnings: ``{code, message}`` entries to record on the job.
    """

    frame: pd.DataFrame
    sha256: str
    total_rows: int
    sampled: bool
    warnings: list[dict[str, Any]] = field(default_factory=list)


def _read(ref: DatasetRef, options: FitOptions) -> ReadFrame:
    if ref.format not in ("csv", "parquet"):
        raise DatasetError(f"unsupported dataset format {ref.format!r}; use csv or parquet", field="dataset.format")
    return read_frame(
        ref.path, ref.format, max_full_rows=options.max_full_rows, sample_rows=options.sample_rows,
        seed=options.random_state,
    )


def load_dataset(ref: DatasetRef, options: FitOptions) -> LoadedDataset:
    """Read ``ref`` in full mode, or a seeded sample of ``options.sample_rows`` rows.

    A dataset with more than ``options.max_full_rows`` rows is sampled while it is read
    (rows keep their file order; see :mod:`actors.ml.table_read`) and a ``dataset_sampled``
    warning is recorded.

    Raises:
        DatasetError: missing or unreadable file, sha256 mismatch, no rows or no columns.
    """
    # Hashing and parsing both release the GIL on large buffers, so they overlap; the
    # digest is still checked before the parsed rows are used.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as pool:
        hashing = pool.submit(file_sha256, ref.path)
        try:
            read: ReadFrame | None = _read(ref, options)
            failure: Exception | None = None
        except Exception as exc:  # reported after the digest: a missing file is a read error first
            read, failure = None, exc
        try:
            digest = hashing.result()
        except OSError as exc:
            raise DatasetError(f"cannot read dataset file: {exc.strerror or exc}", field="dataset.path") from exc
    if ref.sha256 is not None and ref.sha256.lower() != digest:
        raise DatasetError("the dataset file does not match its recorded sha256", field="dataset.sha256",
                           details={"expected": ref.sha256, "actual": digest})
    if isinstance(failure, TableError):
        raise DatasetError(f"cannot parse {ref.format} dataset: {failure.message}", field="dataset.path",
                           details=failure.details) from failure
    if isinstance(failure, DatasetError):
        raise failure
    if failure is not None or read is None:  # every reader failure is the dataset's fault
        raise DatasetError(f"cannot parse {ref.format} dataset: {failure}", field="dataset.path") from failure
    frame = read.frame
    if frame.shape[1] == 0 or read.total_rows == 0:
        raise DatasetError("the dataset has no rows or no columns", field="dataset.path")
    if len(set(map(str, frame.columns))) != frame.shape[1]:
        raise DatasetError("the dataset has duplicate column names", field="dataset.path")
    frame.columns = [str(name) for name in frame.columns]
    warnings: list[dict[str, Any]] = []
    if read.sampled:
        warnings.append({
            "code": "dataset_sampled",
            "message": f"the dataset has {read.total_rows} rows (more than {options.max_full_rows}); "
                       f"trained on a seeded sample of {len(frame)} rows",
        })
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0 or frame.index.step != 1:
        frame = frame.reset_index(drop=True)  # a copy of every column: only when the index needs it
    return LoadedDataset(frame, digest, read.total_rows, read.sampled, warnings)
