"""The pipeline browser: list (cursor-paged), rename, duplicate, and the example pipeline."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.auth import reader_of
from server.bootstrap import ensure_example
from server.keys import BLOBS, SESSIONS, SETTINGS
from server.parsing import parse_query, read_json
from server.routing import Operation
from server.schemas.pipelines import (
    PipelineDuplicateIn,
    PipelineListQuery,
    PipelinePage,
    PipelineRenameIn,
    PipelineSaved,
)
from server.serialize import iso, pipeline_json
from server.views.pipelines import PIPELINE_ID
from store.engine import read_session
from store.models import Pipeline
from store.pipeline_queries import PipelineSummary, list_pipeline_summaries
from store.pipelines import duplicate_pipeline, get_pipeline, rename_pipeline


def _summary_json(item: PipelineSummary) -> dict[str, Any]:
    p = item.pipeline
    return {
        "pipeline_id": p.pipeline_id,
        "name": p.name,
        "dataset_source_id": p.dataset_source_id,
        "dataset_name": item.dataset_name,
        "node_count": item.node_count,
        "last_job_status": item.last_job_status,
        "last_job_at": iso(item.last_job_at),
        "created_at": iso(p.created_at),
        "updated_at": iso(p.updated_at),
    }


def _saved(row: Pipeline, *, created: bool) -> dict[str, Any]:
    return {
        "pipeline": pipeline_json(row),
        "created": created,
        "id_changed": False,
        "previous_pipeline_id": None,
        "active_jobs_on_previous": [],
    }


async def list_pipelines(request: web.Request) -> web.Response:
    query = parse_query(request, PipelineListQuery)
    async with read_session(request.app[SESSIONS]) as session:
        page = await list_pipeline_summaries(
            session,
            reader=reader_of(request),
            limit=query.limit,
            cursor=query.cursor,
            search=query.q,
            include_replaced=query.include_replaced,
        )
    return web.json_response({"items": [_summary_json(i) for i in page.items], "next_cursor": page.next_cursor})


async def rename(request: web.Request) -> web.Response:
    body = await read_json(request, PipelineRenameIn)
    async with request.app[SESSIONS].begin() as session:
        row = await rename_pipeline(session, request.match_info["pipeline_id"], body.name, reader=reader_of(request))
        out = _saved(row, created=False)
    return web.json_response(out)


async def duplicate(request: web.Request) -> web.Response:
    body = await read_json(request, PipelineDuplicateIn)
    async with request.app[SESSIONS].begin() as session:
        row = await duplicate_pipeline(
            session, request.match_info["pipeline_id"], reader=reader_of(request), name=body.name
        )
        out = _saved(row, created=True)
    return web.json_response(out, status=201)


async def open_example(request: web.Request) -> web.Response:
    reader = reader_of(request)
    if reader.user_id is None:  # pragma: no cover - every request's reader is a user
        raise web.HTTPForbidden()
    async with request.app[SESSIONS].begin() as session:
        pipeline_id = await ensure_example(session, request.app[SETTINGS], request.app[BLOBS], reader.user_id)
        row = await get_pipeline(session, pipeline_id, reader=reader)
        out = _saved(row, created=False)
    return web.json_response(out)


OPERATIONS = [
    Operation(
        "GET",
        "/pipelines",
        list_pipelines,
        "list_pipelines",
        "Your pipelines, most recently changed first (name, dataset, node count, last job status)",
        "pipelines",
        {200: PipelinePage},
        query=PipelineListQuery,
    ),
    Operation(
        "PATCH",
        "/pipelines/{pipeline_id}",
        rename,
        "rename_pipeline",
        "Rename a pipeline (its id names the data path and does not change)",
        "pipelines",
        {200: PipelineSaved},
        body=PipelineRenameIn,
        path_params=PIPELINE_ID,
    ),
    Operation(
        "POST",
        "/pipelines/{pipeline_id}/duplicate",
        duplicate,
        "duplicate_pipeline",
        "Copy a pipeline under a new id (node ids get a -copyN suffix); no jobs or versions are copied",
        "pipelines",
        {201: PipelineSaved},
        body=PipelineDuplicateIn,
        path_params=PIPELINE_ID,
    ),
    Operation(
        "POST",
        "/pipelines/example",
        open_example,
        "open_example_pipeline",
        "Your copy of the example dataset and pipeline (created on first use)",
        "pipelines",
        {200: PipelineSaved},
    ),
]
