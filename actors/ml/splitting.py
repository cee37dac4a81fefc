"""The train/test split (identical to scikit-learn's) and train-only resampling."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from actors.errors import InvalidNodeConfig


def split_frame(
    frame: pd.DataFrame, target: str, config: dict[str, Any], random_state: int, prefix: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Partition ``frame`` into (train, test).

    The rows and their order are exactly those ``sklearn.model_selection.train_test_split``
    returns for ``test_size``, ``random_state``, ``shuffle`` and ``stratify`` (true means
    the target column), because it is called on the row positions.

    Raises:
        InvalidNodeConfig: naming ``prefix.<key>`` when the split is impossible.
    """
    from sklearn.model_selection import train_test_split

    stratify = config["stratify"]
    labels = None
    if stratify is not False:
        column = target if stratify is True else stratify
        if column not in frame.columns:
            raise InvalidNodeConfig(f"unknown column {column!r}", field=f"{prefix}.stratify")
        if not config["shuffle"]:
            raise InvalidNodeConfig("stratified splitting needs shuffle=true", field=f"{prefix}.stratify")
        labels = frame[column].to_numpy()
    positions = np.arange(len(frame))
    try:
        train_rows, test_rows = train_test_split(
            positions, test_size=config["test_size"], random_state=random_state,
            shuffle=config["shuffle"], stratify=labels,
        )
    except ValueError as exc:
        key = "stratify" if labels is not None else "test_size"
        raise InvalidNodeConfig(f"cannot split {len(frame)} rows: {exc}", field=f"{prefix}.{key}") from exc
    return frame.iloc[train_rows], frame.iloc[test_rows]


def resample_frame(train: pd.DataFrame, target: str, method: str, random_state: int) -> pd.DataFrame:
    """Balance the classes of ``train`` by random over- or under-sampling.

    ``oversample`` keeps every row and appends rows drawn with replacement from each
    smaller class until it matches the largest; ``undersample`` keeps, in their original
    order, a random subset of each class the size of the smallest.
    """
    rng = np.random.default_rng(random_state)
    labels = train[target].to_numpy()
    classes, counts = np.unique(labels.astype(str), return_counts=True)
    as_text = labels.astype(str)
    if method == "oversample":
        extra = [
            rng.choice(np.flatnonzero(as_text == cls), size=int(counts.max() - count), replace=True)
            for cls, count in zip(classes, counts, strict=True)
            if count < counts.max()
        ]
        chosen = np.concatenate([np.arange(len(train)), *extra])
    else:
        keep = [
            rng.choice(np.flatnonzero(as_text == cls), size=int(counts.min()), replace=False)
            for cls in classes
        ]
        chosen = np.sort(np.concatenate(keep))
    return train.iloc[chosen]
