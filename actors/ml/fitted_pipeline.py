"""The fitted pipeline stored in the artifact: every step from raw rows to the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from actors.errors import DatasetError
from actors.ml.families import CLASSIFICATION
from actors.ml.steps import Step, is_numeric


@dataclass
class FittedPipeline:
    """Fitted transform steps plus the model, applied to raw, dataset-shaped frames.

    Attributes:
        steps: Fitted row-preserving steps in execution order (split and resample only
            shape the training rows and are not replayed at prediction).
        features: Model input columns, in order.
        target: Target column name (need not be present in prediction frames).
        task: ``"classification"`` or ``"regression"``.
        model_type: Model family.
        model: The fitted library estimator (trained on encoded labels for classifiers).
        classes: Original class labels, indexed by the model's encoded labels.
        metadata: Reproducibility metadata recorded at training time.
    """

    steps: list[Step]
    features: list[str]
    target: str
    task: str
    model_type: str
    model: Any
    classes: NDArray[Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Apply every fitted step to ``frame`` (a copy is made; the input is untouched)."""
        if not isinstance(frame, pd.DataFrame):
            raise DatasetError("expected a pandas DataFrame shaped like the dataset", field="frame")
        for step in self.steps:
            frame = step.transform(frame)
        return frame

    def features_matrix(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """The model input for already transformed rows, as a float64 matrix."""
        missing = [name for name in self.features if name not in frame.columns]
        if missing:
            raise DatasetError(f"input is missing feature column(s) {missing}", field="columns",
                               details={"missing": missing})
        wrong = [name for name in self.features if not is_numeric(frame[name])]
        if wrong:
            raise DatasetError(f"feature column(s) {wrong} are not numeric", field="columns",
                               details={"columns": wrong})
        matrix: NDArray[np.float64] = frame[self.features].to_numpy(dtype=np.float64)
        return matrix

    def predict(self, frame: pd.DataFrame) -> NDArray[Any]:
        """Predictions for raw rows: original class labels, or numbers for regression."""
        raw = self.model.predict(self.features_matrix(self.transform(frame)))
        if self.classes is None:
            return np.asarray(raw, dtype=np.float64)
        labels: NDArray[Any] = self.classes[np.asarray(raw, dtype=np.intp)]
        return labels

    def predict_proba(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """Class probabilities for raw rows, columns ordered as ``classes``.

        Raises:
            AttributeError: for regression pipelines.
        """
        if self.task != CLASSIFICATION:
            raise AttributeError("predict_proba is only available for classification pipelines")
        return np.asarray(self.model.predict_proba(self.features_matrix(self.transform(frame))), dtype=np.float64)
