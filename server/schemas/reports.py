"""Schemas of a validation job's report and of the ``validate_model`` node's config."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from server.schemas.common import RequestModel, ResponseModel


class ValidateConfigIn(RequestModel):
    """The ``validate_model`` node's config as the form shows it (blank values take defaults)."""

    versions: str | list[int | str] | None = Field(
        default=None, description="Blank: the active version. Else version numbers and alias names, as a list "
        "or separated by commas (`\"1, 3\"`, `\"champion, challenger\"`); the first is the baseline.")
    dataset_source_id: str | None = Field(
        default=None, max_length=64,
        description="Another uploaded dataset with the same feature columns and the target; blank evaluates on "
        "the pipeline's test partition.")
    n_bootstrap: int | str | None = Field(default=None, description="Paired bootstrap resamples (50-10000).")
    random_state: int | str | None = Field(default=None, description="Seed of the bootstrap.")
    max_runtime_s: float | str | None = Field(default=None, description="Whole seconds; blank = the default.")


class MetricDifference(ResponseModel):
    baseline: float
    value: float
    difference: float = Field(description="`value - baseline` on the evaluated rows.")
    ci_low: float | None = Field(description="Lower bound of the 95% paired bootstrap interval of the difference.")
    ci_high: float | None
    significant: bool = Field(description="The interval excludes 0.")


class Comparison(ResponseModel):
    baseline: int
    version: int
    metrics: dict[str, MetricDifference]


class VersionResult(ResponseModel):
    model_config = ConfigDict(extra="allow")

    version: int
    ref: str = Field(description="How the version was asked for (a number, `active` or an alias name).")
    job_id: str
    model_type: str
    metrics: dict[str, Any] | None = None
    curves: dict[str, Any] | None = Field(default=None, description="`roc`, `pr`, `calibration` or `residuals`.")
    error: str | None = Field(default=None, description="Why this version could not be evaluated.")


class ValidationReportOut(ResponseModel):
    """Each version's metrics on the same rows, the paired differences, curves and data checks."""

    job_id: str
    pipeline_id: str
    node_id: str
    train_node_id: str
    task: Literal["classification", "regression"]
    target: str
    rows: int = Field(description="Rows every version was scored on.")
    data: dict[str, Any] = Field(description="`source`: `test_partition` or `dataset` (+ `dataset_source_id`).")
    metric_names: list[str]
    versions: list[VersionResult]
    comparisons: list[Comparison] = Field(description="Every later version against the first one.")
    bootstrap: dict[str, Any]
    warnings: list[dict[str, Any]] = Field(description="Data checks: `missing_column`, `extra_column`, "
                                           "`unseen_category`, `out_of_range`, `version_failed`, ...")
    generated_at: float
