"""Bodies of the batch-predictions routes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from server.schemas.common import RequestModel


class PredictionsIn(RequestModel):
    """The body of ``POST /pipelines/{pipeline_id}/nodes/{node_id}/versions/{version}/predictions``."""

    dataset_id: str = Field(min_length=1, max_length=64,
                            description="An uploaded dataset of yours with the model's input columns.")
    format: Literal["csv", "parquet"] = Field(
        default="csv", description="The output file: the input's columns, `prediction`, and for classifiers one "
                                   "`probability_<class>` column per class.")
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=255,
        description="Repeating a submission with this key and the same request returns the first job (202).",
    )
