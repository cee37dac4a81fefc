"""Training on a dataset held in object storage: fetched into a local file for the fit.

The fetch runs inside the fit's thread, so the job's heartbeats and cancel checks go on
while a large object downloads. A local store hands over its own file; S3 streams the
object into this worker's scratch directory (removed when the fit ends). The engine
checks the recorded sha256 either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.errors import DatasetError
from actors.ml.fit import TrainingResult, run_training
from actors.ml.options import DatasetFormat, DatasetRef, FitOptions
from store.blobs import BlobStore
from store.errors import BlobError


@dataclass(frozen=True)
class StoredDataset:
    """A dataset's object: the store, its key, its format and its recorded sha256."""

    store: BlobStore
    key: str
    format: DatasetFormat
    sha256: str | None


def train_on_stored(
    graph: dict[str, Any], node_id: str, source: StoredDataset, options: FitOptions, **kwargs: Any
) -> TrainingResult:
    """:func:`actors.ml.fit.run_training` on the stored dataset.

    Raises:
        DatasetError: the object is missing or the store cannot be read; and whatever
            ``run_training`` raises.
    """
    try:
        with source.store.local_file(source.key) as path:
            ref = DatasetRef(str(path), source.format, source.sha256)
            return run_training(graph, node_id, ref, options, **kwargs)
    except BlobError as exc:  # only the fetch raises it: the engine knows no storage
        raise DatasetError(f"cannot read the dataset from storage: {exc.message}", field="dataset.path") from exc
