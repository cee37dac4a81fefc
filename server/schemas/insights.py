"""Schemas of a job's insights: learning curve, feature importance and diagnostic curves."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from server.schemas.common import ResponseModel
from store.states import JobStatus

Label = str | int | float | bool
Point = list[float | None]


class CurveSeries(ResponseModel):
    partition: Literal["train", "test", "validation"] = Field(
        description="`train`: the rows the model is fitted on; `test`: the test partition (scored only); "
        "`validation`: the share of the train rows early stopping decides on.")
    metric: Literal["log_loss", "accuracy", "rmse", "r2"]


class LearningCurve(ResponseModel):
    """The fit's learning curve, downsampled to at most 500 points."""

    unit: Literal["round", "trees"] = Field(description="What a point's first value counts.")
    series: list[CurveSeries]
    points: list[Point] = Field(description="`[step, value of series 0, value of series 1, ...]`; null = not finite.")
    count: int = Field(description="Points recorded before downsampling.")
    best_step: int | None = Field(default=None, description="The round early stopping kept, if it stopped early.")


class FeatureImportance(ResponseModel):
    """One feature; each kind of importance is present where it applies to the family."""

    feature: str
    gain: float | None = Field(default=None, description="XGBoost / LightGBM gain.")
    impurity: float | None = Field(default=None, description="Random forest mean decrease in impurity.")
    coefficient: float | None = Field(default=None, description="Linear model coefficient (binary / regression).")
    mean_abs_coefficient: float | None = Field(default=None, description="Multiclass: mean |coefficient|.")
    shap_mean_abs: float | None = Field(default=None, description="Mean |tree SHAP| on the sample (boosting).")
    permutation_mean: float | None = Field(default=None, description="Mean drop of the model's score "
                                           "(accuracy / R²) when the feature is shuffled on the test sample.")
    permutation_std: float | None = None


class ClassCurve(ResponseModel):
    label: Label = Field(description="The positive class (one-vs-rest).")
    points: list[Point] = Field(description="ROC: `[fpr, tpr]`; PR: `[recall, precision]`; "
                                "calibration: `[mean predicted, fraction positive]`.")
    auc: float | None = None
    average_precision: float | None = None
    positive_rate: float | None = None
    counts: list[int] | None = Field(default=None, description="Calibration: rows per (non-empty) bin.")


class CurveSet(ResponseModel):
    scheme: Literal["binary", "one_vs_rest"]
    curves: list[ClassCurve]
    bins: int | None = None


class Decile(ResponseModel):
    decile: int
    count: int
    low: float | None
    high: float | None
    mae: float | None
    rmse: float | None
    bias: float | None = Field(description="Mean of predicted minus actual.")


class Residuals(ResponseModel):
    columns: list[str] = Field(description="`[actual, predicted, residual]`.")
    points: list[Point] = Field(description="A seeded sample of at most 2,000 test rows.")
    rows: int
    sampled: bool
    by_decile: list[Decile] = Field(description="Error per decile of the actual value.")


class ConfusionMatrix(ResponseModel):
    labels: list[Label]
    matrix: list[list[int]] = Field(description="Rows: true class; columns: predicted class.")


class ExplainSummary(ResponseModel):
    rows: int = Field(description="Test rows sampled for SHAP and permutation importance.")
    test_rows: int
    shap_rows: int = Field(description="Rows whose SHAP values were computed (0 for families without tree SHAP).")
    permutation_repeats: int
    permutation_features: int = Field(description="Features whose permutation importance was computed.")
    budget_s: float
    seconds: float
    complete: bool
    skipped: list[str] = Field(description="Parts left out because the time budget ran out.")


class InsightsOut(ResponseModel):
    """What a job shows about its model; keys are present as they apply to the job's task and state."""

    job_id: str
    status: JobStatus
    model_type: str
    learning_curve: LearningCurve | None = Field(default=None, description="While running: the curve so far.")
    early_stopping: dict[str, int | float | None] | None = None
    feature_importance: list[FeatureImportance] | None = Field(
        default=None, description="Sorted by permutation importance (else the library's).")
    roc: CurveSet | None = None
    pr: CurveSet | None = None
    calibration: CurveSet | None = None
    confusion_matrix: ConfusionMatrix | None = None
    residuals: Residuals | None = None
    explain: ExplainSummary | None = None
