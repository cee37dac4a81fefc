"""Schemas of pipeline graphs, their upsert and their hydration."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from server.schemas.common import RequestModel, ResponseModel
from server.schemas.graph import Graph, Identifier
from server.schemas.jobs import JobOut


class PipelineIn(RequestModel):
    """Save a graph. The pipeline id is derived from the dataset and the graph hash."""

    dataset_source_id: Identifier
    graph: Graph
    previous_pipeline_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description=(
            "The id the canvas had before this save; the answer says whether it changed. When it did, the new "
            "pipeline records that it replaced this one (a pipeline of the same owner), so its hydration lists "
            "the jobs of nodes that are gone as `orphan_jobs`."
        ),
    )
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The pipeline's human name; absent keeps the stored one (or the previous id's).",
    )


class PipelineOut(ResponseModel):
    pipeline_id: str
    name: str | None = Field(description="The human name; null until named.")
    dataset_source_id: str
    owner_id: str
    graph: dict[str, Any]
    graph_hash: str
    created_at: dt.datetime
    updated_at: dt.datetime


class PipelineListQuery(RequestModel):
    """Paging and search of the pipeline browser."""

    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, min_length=1, max_length=500)
    q: str | None = Field(default=None, min_length=1, max_length=200, description="Matches name, id or dataset name.")
    include_replaced: bool = Field(
        default=False,
        description="Also list pipelines a later save replaced (new data path) that have no job of their own.",
    )


class PipelineSummaryOut(ResponseModel):
    """One row of the pipeline browser (no graph)."""

    pipeline_id: str
    name: str | None
    dataset_source_id: str
    dataset_name: str | None
    node_count: int
    last_job_status: str | None = Field(description="Status of the pipeline's newest job, if any.")
    last_job_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class PipelinePage(ResponseModel):
    items: list[PipelineSummaryOut]
    next_cursor: str | None


class PipelineRenameIn(RequestModel):
    name: str = Field(min_length=1, max_length=200)


class PipelineDuplicateIn(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200, description="Default: '<name> (copy)'.")


class PipelineSaved(ResponseModel):
    """The answer to a save."""

    pipeline: PipelineOut
    created: bool = Field(description="True when this graph had never been saved before.")
    id_changed: bool = Field(description="True when `previous_pipeline_id` was given and differs.")
    previous_pipeline_id: str | None
    active_jobs_on_previous: list[JobOut] = Field(
        description="Active jobs that still refer to the previous pipeline id (they run the old graph)."
    )


class PipelineHydrated(ResponseModel):
    """What the canvas needs on reload."""

    pipeline: PipelineOut
    jobs: list[JobOut] = Field(description="The latest job of each training node of the graph.")
    orphan_jobs: list[JobOut] = Field(
        description=(
            "The latest job of each training node that is no longer in the graph: nodes of this pipeline and of "
            "the pipelines it replaced (saves that sent `previous_pipeline_id`), followed back through every "
            "replacement."
        )
    )
