"""Fitted, row-preserving transform steps: the feature part of the artifact.

Each step learns on one frame (``fit``) and applies to any dataset-shaped frame
(``transform``), so the same objects run at training and at prediction time. Steps never
touch the target column and never modify their input frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from actors.errors import DatasetError, InvalidNodeConfig


def is_numeric(series: pd.Series) -> bool:
    """Whether a column can be fed to a model as numbers (booleans count)."""
    return bool(ptypes.is_numeric_dtype(series.dtype) or ptypes.is_bool_dtype(series.dtype))


def _numeric_not_bool(series: pd.Series) -> bool:
    return bool(ptypes.is_numeric_dtype(series.dtype) and not ptypes.is_bool_dtype(series.dtype))


@dataclass
class Step:
    """Base of the fitted steps.

    Attributes:
        node_id: The graph node this step came from.
        columns_field: Dotted path of the node's ``columns`` config, for errors.
        target: Target column; never transformed.
        columns: Configured columns, or None for the step's default selection.
    """

    node_id: str
    columns_field: str
    target: str
    columns: list[str] | None = None
    fitted_columns: list[str] = field(default_factory=list)

    def fit(self, frame: pd.DataFrame) -> None:
        """Learn the step's state from ``frame``."""
        self.fitted_columns = self._select(frame)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Apply the step to ``frame`` and return a new frame."""
        raise NotImplementedError

    def _default_columns(self, frame: pd.DataFrame) -> list[str]:
        return [name for name in frame.columns if name != self.target]

    def _select(self, frame: pd.DataFrame) -> list[str]:
        if self.columns is None:
            return self._default_columns(frame)
        for name in self.columns:
            if name == self.target:
                raise InvalidNodeConfig(f"the target column {name!r} cannot be transformed", field=self.columns_field)
            if name not in frame.columns:
                raise InvalidNodeConfig(f"unknown column {name!r}", field=self.columns_field, details={"column": name})
        return list(self.columns)

    def _require(self, frame: pd.DataFrame, names: list[str]) -> None:
        missing = [name for name in names if name not in frame.columns]
        if missing:
            raise DatasetError(f"input is missing column(s) {missing} needed by node {self.node_id!r}",
                               field="columns", details={"missing": missing, "node_id": self.node_id})


@dataclass
class DropColumns(Step):
    """Removes the configured columns (those absent from a prediction frame are ignored)."""

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.drop(columns=[name for name in self.fitted_columns if name in frame.columns])


@dataclass
class SelectColumns(Step):
    """Keeps the configured columns, in the frame's order, plus the target when present."""

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        self._require(frame, self.fitted_columns)
        keep = set(self.fitted_columns) | {self.target}
        return frame[[name for name in frame.columns if name in keep]]


@dataclass
class Impute(Step):
    """Fills missing values with a per-column statistic learned at fit time."""

    strategy: str = "mean"
    fill_value: Any = None
    values: dict[str, Any] = field(default_factory=dict)

    def _default_columns(self, frame: pd.DataFrame) -> list[str]:
        names = super()._default_columns(frame)
        if self.strategy in ("mean", "median"):
            return [name for name in names if _numeric_not_bool(frame[name])]
        return names

    def fit(self, frame: pd.DataFrame) -> None:
        super().fit(frame)
        self.values = {}
        for name in self.fitted_columns:
            column = frame[name]
            if self.strategy in ("mean", "median") and not _numeric_not_bool(column):
                raise InvalidNodeConfig(f"column {name!r} is not numeric; {self.strategy} needs numbers",
                                        field=self.columns_field, details={"column": name})
            if self.strategy == "mean":
                value: Any = column.mean()
            elif self.strategy == "median":
                value = column.median()
            elif self.strategy == "most_frequent":
                modes = column.mode(dropna=True)
                value = modes.iloc[0] if len(modes) else None
            else:
                value = self.fill_value
            if value is not None and not (isinstance(value, float) and np.isnan(value)):
                self.values[name] = value.item() if isinstance(value, np.generic) else value

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        self._require(frame, self.fitted_columns)
        out = frame.copy()
        for name, value in self.values.items():
            if out[name].isna().any():
                out[name] = out[name].fillna(value)
        return out


@dataclass
class Scale(Step):
    """Standard, min-max or robust scaling of numeric columns (scikit-learn scalers)."""

    method: str = "standard"
    scaler: Any = None

    def _default_columns(self, frame: pd.DataFrame) -> list[str]:
        return [name for name in super()._default_columns(frame) if _numeric_not_bool(frame[name])]

    def fit(self, frame: pd.DataFrame) -> None:
        from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

        super().fit(frame)
        for name in self.fitted_columns:
            if not _numeric_not_bool(frame[name]):
                raise InvalidNodeConfig(f"column {name!r} is not numeric and cannot be scaled",
                                        field=self.columns_field, details={"column": name})
        kinds = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}
        self.scaler = kinds[self.method]()
        if self.fitted_columns:
            self.scaler.fit(frame[self.fitted_columns].to_numpy(dtype=np.float64))

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        self._require(frame, self.fitted_columns)
        if not self.fitted_columns:
            return frame
        out = frame.copy()
        scaled = self.scaler.transform(frame[self.fitted_columns].to_numpy(dtype=np.float64))
        for position, name in enumerate(self.fitted_columns):
            out[name] = scaled[:, position]
        return out


@dataclass
class Encode(Step):
    """One-hot or ordinal encoding; unseen categories become all zeros or -1."""

    method: str = "onehot"
    categories: dict[str, list[str]] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)

    def _default_columns(self, frame: pd.DataFrame) -> list[str]:
        return [name for name in super()._default_columns(frame) if not is_numeric(frame[name])]

    def fit(self, frame: pd.DataFrame) -> None:
        super().fit(frame)
        self.categories = {}
        self.names = {}
        taken = set(frame.columns) - set(self.fitted_columns)
        for name in self.fitted_columns:
            cats = sorted(set(frame[name].astype("string").dropna()))
            self.categories[name] = cats
            if self.method == "onehot":
                created = [f"{name}_{cat}" for cat in cats]
                clash = taken.intersection(created)
                if clash:
                    raise InvalidNodeConfig(f"one-hot encoding {name!r} would overwrite column(s) {sorted(clash)}",
                                            field=self.columns_field, details={"column": name})
                taken.update(created)
                self.names[name] = created

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        self._require(frame, self.fitted_columns)
        parts: dict[str, Any] = {}
        for name in frame.columns:
            if name not in self.categories:
                parts[name] = frame[name]
                continue
            text = frame[name].astype("string")
            if self.method == "onehot":
                for cat, created in zip(self.categories[name], self.names[name], strict=True):
                    parts[created] = (text == cat).fillna(False).to_numpy(dtype=np.float64)
            else:
                lookup = {cat: float(code) for code, cat in enumerate(self.categories[name])}
                codes = text.map(lookup).astype("float64").fillna(-1.0).to_numpy()
                parts[name] = np.where(text.isna().to_numpy(), np.nan, codes)
        return pd.DataFrame(parts, index=frame.index)
