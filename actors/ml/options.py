"""Plain-value inputs of the engine: where the dataset is and how to run.

The caller (the training actor) maps the service configuration onto these; the engine
never reads configuration or environment variables itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DatasetFormat = Literal["csv", "parquet"]


@dataclass(frozen=True)
class DatasetRef:
    """A dataset file to train on.

    Attributes:
        path: Local filesystem path of the file.
        format: ``"csv"`` or ``"parquet"``.
        sha256: Expected sha256 of the file; when given, a mismatch is a ``DatasetError``.
    """

    path: str
    format: DatasetFormat
    sha256: str | None = None


@dataclass(frozen=True)
class FitOptions:
    """How the engine runs a job.

    Attributes:
        max_full_rows: Datasets with more rows than this are degraded to a sample.
        sample_rows: Size of the seeded sample used for oversized datasets.
        n_jobs: Threads a model may use while fitting.
        random_state: Seed used wherever the job does not set one (split, sampling, model).
        max_runtime_limit_s: The largest ``max_runtime_s`` a training node may ask for
            (the service setting ``jobs.max_runtime_limit_s``).
        curves: Record learning curves while fitting (boosting families and forests).
        explain: Run the explain stage after the fit.
        explain_rows: Test rows sampled for SHAP and permutation importance.
        explain_budget_s: Time the explain stage may take; parts beyond it are skipped.
        permutation_repeats: Shuffles per feature for permutation importance.
    """

    max_full_rows: int = 1_000_000
    sample_rows: int = 200_000
    n_jobs: int = 1
    random_state: int = 42
    max_runtime_limit_s: float = 86400.0
    curves: bool = True
    explain: bool = True
    explain_rows: int = 2000
    explain_budget_s: float = 60.0
    permutation_repeats: int = 5

    def __post_init__(self) -> None:
        for name in ("max_full_rows", "sample_rows", "n_jobs", "explain_rows", "permutation_repeats"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"FitOptions.{name} must be an integer >= 1, got {value!r}")
        if isinstance(self.random_state, bool) or not isinstance(self.random_state, int) or self.random_state < 0:
            raise ValueError(f"FitOptions.random_state must be an integer >= 0, got {self.random_state!r}")
        if isinstance(self.explain_budget_s, bool) or not isinstance(self.explain_budget_s, int | float) or not (
                self.explain_budget_s > 0):
            raise ValueError(f"FitOptions.explain_budget_s must be a number > 0, got {self.explain_budget_s!r}")
