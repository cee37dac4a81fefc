"""The downloadable model: the fitted pipeline as a plain scikit-learn ``Pipeline``.

Loading it needs only scikit-learn, XGBoost, LightGBM, pandas and joblib: every stage is a
class of those libraries, and the few ``FunctionTransformer`` stages wrap pandas methods
(never a function of this project). It takes the raw, dataset-shaped frame (the target
column may be absent, extra columns are ignored) and predicts exactly what
:class:`actors.ml.fitted_pipeline.FittedPipeline` predicts:

- ``drop_columns`` / ``select_columns``: a ``ColumnTransformer`` that drops or keeps them;
- ``impute``: ``DataFrame.fillna`` with the per-column values learned at training;
- ``scale``: the very scaler fitted at training, frozen inside a ``ColumnTransformer``;
- ``encode``: the columns cast to strings as the step compares them, then a
  ``OneHotEncoder`` / ``OrdinalEncoder`` with the categories learned at training;
- the model's columns in order as a float64 matrix (``DataFrame.to_numpy``);
- classifiers inside a one-member soft ``VotingClassifier``, whose label encoder turns the
  model's class indices back into the original labels (``predict`` is the first argmax
  of ``predict_proba``, as the service's evaluation reads it).

The service predicts through this same object (see :mod:`actors.jobs.predictions`), so a
downloaded artifact and the service's batch predictions agree by construction.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, LabelEncoder, OneHotEncoder, OrdinalEncoder
from sklearn.utils import Bunch

from actors.ml.fitted_pipeline import FittedPipeline
from actors.ml.steps import DropColumns, Encode, Impute, Scale, SelectColumns, Step

TEMPLATE_ROWS = 64
"""Rows of the training frame the column-routing stages are fitted on: they learn column
names and positions only; every learned value comes from the fitted steps."""

TEXT = pd.StringDtype("python", na_value=np.nan)
"""How the encode step reads a column: ``astype("string")``, with NaN for missing values so
the encoders see them as missing (``pd.NA`` would read as an unknown category)."""

Stage = tuple[str, Any]


def _columns(step: Step, template: pd.DataFrame) -> list[str]:
    return [name for name in step.fitted_columns if name in template.columns and name != step.target]


def _routed(name: str, parts: list[tuple[str, Any, list[str]]], remainder: str) -> Stage:
    router = ColumnTransformer(parts, remainder=remainder, verbose_feature_names_out=False)
    return name, router.set_output(transform="pandas")


def _stages(step: Step, position: int, template: pd.DataFrame) -> list[Stage]:
    name = f"{position}_{type(step).__name__.lower()}"
    columns = _columns(step, template)
    if isinstance(step, DropColumns):
        return [_routed(name, [("drop", "drop", columns)], "passthrough")] if columns else []
    if isinstance(step, SelectColumns):
        return [_routed(name, [("keep", "passthrough", columns)], "drop")]
    if isinstance(step, Impute):
        if not step.values:
            return []
        return [(name, FunctionTransformer(pd.DataFrame.fillna, kw_args={"value": dict(step.values)}))]
    if isinstance(step, Scale):
        if not columns:
            return []
        scaler = copy.deepcopy(step.scaler)
        scaler.feature_names_in_ = np.asarray(columns, dtype=object)  # fitted on the same columns, as numbers
        return [_routed(name, [("scale", FrozenEstimator(scaler), columns)], "passthrough")]
    if isinstance(step, Encode):
        return _encode_stages(step, name, columns)
    raise TypeError(f"no portable form for step {type(step).__name__}")


def _encode_stages(step: Encode, name: str, columns: list[str]) -> list[Stage]:
    if not columns:
        return []
    cast = FunctionTransformer(pd.DataFrame.astype, kw_args={"dtype": dict.fromkeys(columns, TEXT)})
    parts: list[tuple[str, Any, list[str]]] = []
    for index, column in enumerate(columns):
        categories = list(step.categories[column])
        encoder: Any
        if step.method == "onehot" and not categories:
            encoder = "drop"  # never seen a value: the step makes no indicator column
        elif step.method == "onehot":
            encoder = OneHotEncoder(categories=[categories], handle_unknown="ignore", sparse_output=False,
                                    dtype=np.float64)
        else:
            # NaN listed last makes a missing value encode to NaN, not to the unknown code.
            encoder = OrdinalEncoder(categories=[[*categories, np.nan]], handle_unknown="use_encoded_value",
                                     unknown_value=-1, encoded_missing_value=np.nan, dtype=np.float64)
        parts.append((f"c{index}", encoder, [column]))
    return [(f"{name}_text", cast), _routed(name, parts, "passthrough")]


def _estimator(fitted: FittedPipeline) -> Any:
    if fitted.classes is None:
        return fitted.model
    decoder = VotingClassifier([("model", fitted.model)], voting="soft")
    decoder.estimators_ = [fitted.model]
    decoder.named_estimators_ = Bunch(model=fitted.model)
    decoder.le_ = LabelEncoder().fit(fitted.classes)
    decoder.classes_ = decoder.le_.classes_
    return decoder


def portable_pipeline(fitted: FittedPipeline, raw: pd.DataFrame) -> Pipeline:
    """The scikit-learn ``Pipeline`` equal to ``fitted``, built on rows shaped like the dataset.

    Args:
        fitted: The fitted pipeline a training job produced.
        raw: Rows of the dataset as read for training (the first :data:`TEMPLATE_ROWS`
            are used; the target column is dropped).
    """
    template = raw.head(TEMPLATE_ROWS).drop(columns=[fitted.target], errors="ignore")
    stages: list[Stage] = []
    for position, step in enumerate(fitted.steps):
        for name, transformer in _stages(step, position, template):
            template = transformer.fit(template).transform(template)
            stages.append((name, transformer))
    select = _routed("features", [("features", "passthrough", list(fitted.features))], "drop")
    select[1].fit(template)
    matrix = FunctionTransformer(pd.DataFrame.to_numpy, kw_args={"dtype": np.float64})
    return Pipeline([*stages, select, ("matrix", matrix), ("model", _estimator(fitted))])


def input_columns(raw: pd.DataFrame, target: str) -> list[dict[str, str]]:
    """The dataset's columns a prediction frame is read with: name and pandas dtype."""
    return [{"name": str(name), "dtype": str(dtype)} for name, dtype in raw.dtypes.items() if name != target]
