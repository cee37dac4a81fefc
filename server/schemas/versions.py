"""Schemas of model versions: listing, comparison and promotion."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from server.schemas.common import RequestModel, ResponseModel
from server.schemas.jobs import HandOff
from store.alias_names import VERSION_REF_PATTERN

_METRIC = "accuracy|f1|roc_auc|precision|recall|log_loss|rmse|mae|r2"
VERSION_ORDER_PATTERN = rf"^(version|created_at|((train|test)\.)?({_METRIC}))$"


class VersionOut(ResponseModel):
    """One model version of a training node."""

    pipeline_id: str
    node_id: str
    version: int
    job_id: str
    model_type: str
    hyperparameters: dict[str, Any]
    metrics: dict[str, Any]
    artifact_uri: str
    artifact_sha256: str | None
    created_at: dt.datetime
    deleted_at: dt.datetime | None = Field(
        default=None, description="Set when the version was deleted: it stays listed, its artifact is gone."
    )
    aliases: list[str] = Field(description="Aliases pointing at this version, e.g. `active`.")
    output: HandOff = Field(description="The hand-off object for a validation node.")


class VersionListQuery(RequestModel):
    order_by: str = Field(
        default="version",
        pattern=VERSION_ORDER_PATTERN,
        description=(
            "`version` or `created_at` (newest first), or a metric, best first (top-N): `rmse`, `mae`, "
            "`log_loss` ascending, the others descending; `test.` (the default) or `train.` may prefix it."
        ),
    )
    limit: int = Field(default=50, ge=1, le=500)


class VersionsOut(ResponseModel):
    pipeline_id: str
    node_id: str
    active_version: int | None
    items: list[VersionOut]


_REF = "a version number or an alias name (`champion`, `active`, ...)"


class CompareQuery(RequestModel):
    a: str = Field(min_length=1, max_length=64, pattern=VERSION_REF_PATTERN, description=f"The first version: {_REF}.")
    b: str = Field(min_length=1, max_length=64, pattern=VERSION_REF_PATTERN, description=f"The second version: {_REF}.")


class Difference(ResponseModel):
    a: Any = None
    b: Any = None


class CompareOut(ResponseModel):
    """Differences between two versions; equal values are left out of `hyperparameters`."""

    a: VersionOut
    b: VersionOut
    hyperparameters: dict[str, Difference]
    metrics: dict[str, dict[str, Difference]] = Field(description="Per partition (`train`, `test`), every metric.")


class PromoteOut(ResponseModel):
    pipeline_id: str
    node_id: str
    alias: Literal["active"]
    version: int
    previous_version: int | None
    updated_at: dt.datetime
    updated_by: str | None
