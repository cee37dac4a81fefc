"""Data checks of an evaluation frame against the rows a model was trained on.

Pure functions: each finding is a ``{code, message, column, ...}`` warning, never an
error, so a validation report shows what is off with the data beside the numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

FAR_OUTSIDE = 1.0
"""A numeric value is "far outside" training when it lies more than this many training
ranges (max - min) below the training minimum or above the training maximum."""
MAX_EXAMPLES = 5


def _is_numeric(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series)) and not pd.api.types.is_bool_dtype(series)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def check_columns(train: pd.DataFrame, frame: pd.DataFrame, target: str) -> list[dict[str, Any]]:
    """Columns the model reads that ``frame`` lacks, and columns it has that the model ignores."""
    expected = [c for c in train.columns if c != target]
    have = set(frame.columns)
    warnings: list[dict[str, Any]] = []
    for column in expected:
        if column not in have:
            warnings.append({"code": "missing_column", "column": column,
                             "message": f"column {column!r} the model reads is missing; it is treated as empty"})
    for column in frame.columns:
        if column != target and column not in set(expected):
            warnings.append({"code": "extra_column", "column": column,
                             "message": f"column {column!r} was not in the training data; it is ignored"})
    return warnings


def check_values(train: pd.DataFrame, frame: pd.DataFrame, target: str) -> list[dict[str, Any]]:
    """Category values never seen in training, and numbers far outside the training range."""
    warnings: list[dict[str, Any]] = []
    for column in train.columns:
        if column == target or column not in frame.columns:
            continue
        seen, new = train[column].dropna(), frame[column].dropna()
        if len(new) == 0 or len(seen) == 0:
            continue
        if _is_numeric(seen) and _is_numeric(new):
            low, high = float(seen.min()), float(seen.max())
            margin = FAR_OUTSIDE * (high - low)
            outside = new[(new < low - margin) | (new > high + margin)]
            if len(outside):
                warnings.append({
                    "code": "out_of_range", "column": column, "rows": len(outside),
                    "training_range": [low, high],
                    "examples": [_plain(v) for v in outside.head(MAX_EXAMPLES)],
                    "message": f"{len(outside)} value(s) of {column!r} lie far outside the training range "
                               f"[{low:g}, {high:g}]",
                })
            continue
        known = set(seen.astype(str))
        unseen = new[~new.astype(str).isin(known)]
        if len(unseen):
            values = sorted({str(v) for v in unseen})
            warnings.append({
                "code": "unseen_category", "column": column, "rows": len(unseen),
                "values": values[:MAX_EXAMPLES],
                "message": f"{len(unseen)} row(s) of {column!r} hold categories never seen in training "
                           f"({', '.join(repr(v) for v in values[:MAX_EXAMPLES])})",
            })
    return warnings


def aligned(frame: pd.DataFrame, train: pd.DataFrame, target: str) -> pd.DataFrame:
    """``frame`` with the training columns in training order: missing ones empty, extra ones dropped."""
    columns = [c for c in train.columns if c != target]
    out = frame.reindex(columns=columns)
    for column in columns:
        if column not in frame.columns:
            out[column] = pd.Series(np.nan, index=frame.index, dtype=train[column].dtype
                                    if _is_numeric(train[column]) else object)
    return out
