"""Training on a dataset held in object storage: fetched into a local file for the fit.

The fetch runs inside the fit's thread, so the job's heartbeats and cancel checks go on
while a large object downloads. A local store hands over its own file; S3 streams the
object into this worker's scratch directory (removed when the fit ends). The ML side
(``actors.ml``) checks the recorded sha256 either way.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from actors.errors import ArtifactError, DatasetError
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
    with contextlib.ExitStack() as stack:
        return run_training(graph, node_id, fetch_dataset(stack, source), options, **kwargs)


def fetch_dataset(stack: contextlib.ExitStack, source: StoredDataset) -> DatasetRef:
    """A local file of the stored dataset for as long as ``stack`` stays open.

    Raises:
        DatasetError: the object is missing or the store cannot be read.
    """
    try:
        path = stack.enter_context(source.store.local_file(source.key))
    except BlobError as exc:
        raise DatasetError(f"cannot read the dataset from storage: {exc.message}", field="dataset.path") from exc
    return DatasetRef(str(path), source.format, source.sha256)


def fetch_artifact(stack: contextlib.ExitStack, store: BlobStore, key: str, sha256: str) -> str:
    """A local file of a stored model, checked against ``sha256``, while ``stack`` stays open.

    Raises:
        ArtifactError: the object is missing, unreadable or does not match ``sha256``.
    """
    try:
        return str(stack.enter_context(store.local_file(key, sha256=sha256)))
    except BlobError as exc:
        field = "artifact.sha256" if exc.code == "blob_corrupt" else "artifact.path"
        raise ArtifactError(f"cannot read the model from storage: {exc.message}", field=field) from exc
