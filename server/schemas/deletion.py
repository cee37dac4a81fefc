"""Schemas of the DELETE routes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from server.schemas.common import ResponseModel


class Deleted(ResponseModel):
    """What was deleted."""

    deleted: Literal["pipeline", "training_job", "model_version"]
    id: str = Field(description="The id (for a version: `pipeline_id/node_id/v<version>`).")
    artifacts_removed: int = Field(description="Artifact files removed from storage.")
