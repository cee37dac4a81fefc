"""Loading the job's dataset (CSV or Parquet), degrading to a seeded sample when too big."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from actors.errors import DatasetError
from actors.options import DatasetRef, EngineOptions

CHUNK = 1 << 20


def file_sha256(path: str) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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


def _read(ref: DatasetRef) -> pd.DataFrame:
    if ref.format == "csv":
        return pd.read_csv(ref.path)
    if ref.format == "parquet":
        return pd.read_parquet(ref.path)
    raise DatasetError(f"unsupported dataset format {ref.format!r}; use csv or parquet", field="dataset.format")


def load_dataset(ref: DatasetRef, options: EngineOptions) -> LoadedDataset:
    """Read ``ref`` in full mode, or a seeded sample of ``options.sample_rows`` rows.

    A dataset with more than ``options.max_full_rows`` rows is sampled (rows keep their
    file order) and a ``dataset_sampled`` warning is recorded.

    Raises:
        DatasetError: missing or unreadable file, sha256 mismatch, no rows or no columns.
    """
    # Hashing and parsing both release the GIL on large buffers, so they overlap; the
    # digest is still checked before the parsed rows are used.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as pool:
        hashing = pool.submit(file_sha256, ref.path)
        try:
            frame: pd.DataFrame | None = _read(ref)
            failure: Exception | None = None
        except Exception as exc:  # reported after the digest: a missing file is a read error first
            frame, failure = None, exc
        try:
            digest = hashing.result()
        except OSError as exc:
            raise DatasetError(f"cannot read dataset file: {exc.strerror or exc}", field="dataset.path") from exc
    if ref.sha256 is not None and ref.sha256.lower() != digest:
        raise DatasetError("the dataset file does not match its recorded sha256", field="dataset.sha256",
                           details={"expected": ref.sha256, "actual": digest})
    if isinstance(failure, DatasetError):
        raise failure
    if failure is not None or frame is None:  # every reader failure is the dataset's fault
        raise DatasetError(f"cannot parse {ref.format} dataset: {failure}", field="dataset.path") from failure
    if frame.shape[1] == 0 or frame.shape[0] == 0:
        raise DatasetError("the dataset has no rows or no columns", field="dataset.path")
    if len(set(map(str, frame.columns))) != frame.shape[1]:
        raise DatasetError("the dataset has duplicate column names", field="dataset.path")
    frame.columns = [str(name) for name in frame.columns]
    total = len(frame)
    warnings: list[dict[str, Any]] = []
    sampled = total > options.max_full_rows
    if sampled:
        size = min(options.sample_rows, total)
        frame = frame.sample(n=size, random_state=options.random_state).sort_index()
        warnings.append({
            "code": "dataset_sampled",
            "message": f"the dataset has {total} rows (more than {options.max_full_rows}); "
                       f"trained on a seeded sample of {size} rows",
        })
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0 or frame.index.step != 1:
        frame = frame.reset_index(drop=True)  # a copy of every column: only when the index needs it
    return LoadedDataset(frame, digest, total, sampled, warnings)
