"""``PUT /pipelines`` (save a graph) and ``GET /pipelines/{pipeline_id}`` (hydrate the canvas)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from actors.ml.graph import check_structure
from server.auth import reader_of
from server.json_out import large_json_response
from server.keys import OFFLOAD, SESSIONS
from server.parsing import read_json
from server.routing import Operation
from server.schemas.pipelines import PipelineHydrated, PipelineIn, PipelineSaved
from server.serialize import jobs_json, pipeline_json
from store.engine import Session, read_session
from store.graph_hash import graph_hash, pipeline_id_for
from store.job_listing import latest_job_per_node, list_jobs
from store.kinds import JobKind
from store.lineage import ancestors, record_replacement
from store.models import TrainingJob
from store.pipelines import get_pipeline, pipeline_exists, pipeline_name, upsert_pipeline
from store.reader import Reader
from store.states import ACTIVE

TRAIN_MODEL = "train_model"
RUNNABLE = frozenset({TRAIN_MODEL, "validate_model"})
"""Node types that run as jobs: the hydrated canvas shows each one's latest job."""
NODE_JOB_KINDS = (JobKind.TRAINING, JobKind.VALIDATION)
"""The kinds a node runs itself; batch predictions only read a training node's model (its badge is its training)."""
PIPELINE_ID = {"pipeline_id": {"type": "string", "minLength": 1, "maxLength": 128}}


async def _active_jobs(session: Session, pipeline_id: str, reader: Reader) -> list[TrainingJob]:
    page = await list_jobs(session, reader=reader, pipeline_id=pipeline_id, status=ACTIVE, limit=500)
    return page.items


def _checked_graph(body: PipelineIn) -> tuple[dict[str, Any], str]:
    """The graph as JSON data, structurally checked, with its hash (runs on the bounded executor)."""
    graph: dict[str, Any] = body.graph.model_dump(mode="json", exclude_unset=True)
    check_structure(graph)
    return graph, graph_hash(graph)


async def save_pipeline(request: web.Request) -> web.Response:
    body = await read_json(request, PipelineIn)
    reader = reader_of(request)
    # CPU work on a large graph: off the event loop, and before the write transaction.
    graph, digest = await request.app[OFFLOAD].run(reader.user_id or "", _checked_graph, body)
    async with request.app[SESSIONS].begin() as session:
        expected_id = pipeline_id_for(body.dataset_source_id, digest)
        existed = await pipeline_exists(session, expected_id)
        previous = body.previous_pipeline_id
        name = body.name
        if name is None and previous and previous != expected_id and not existed:
            # A new data path is still the same pipeline to its people: keep its name.
            name = await pipeline_name(session, previous, reader=reader)
        row = await upsert_pipeline(
            session, dataset_source_id=body.dataset_source_id, graph=graph, reader=reader, name=name, digest=digest
        )
        changed = previous is not None and previous != row.pipeline_id
        if changed and previous:
            await record_replacement(session, row, previous)
        stale = await _active_jobs(session, previous, reader) if changed and previous else []
        out = {
            "pipeline": pipeline_json(row),
            "created": not existed,
            "id_changed": changed,
            "previous_pipeline_id": previous,
            "active_jobs_on_previous": jobs_json(stale),
        }
    return await large_json_response(request, out, status=200 if existed else 201)


async def hydrate_pipeline(request: web.Request) -> web.Response:
    reader = reader_of(request)
    async with read_session(request.app[SESSIONS]) as session:
        row = await get_pipeline(session, request.match_info["pipeline_id"], reader=reader)
        latest = await latest_job_per_node(session, row.pipeline_id, reader, NODE_JOB_KINDS)
        replaced = await ancestors(session, row.pipeline_id)
        # The newest job of every node id over this pipeline and those it replaced.
        across = (
            await latest_job_per_node(session, [row.pipeline_id, *replaced], reader, NODE_JOB_KINDS)
            if replaced
            else latest
        )
    nodes = row.graph.get("nodes", []) if isinstance(row.graph, dict) else []
    training = {n.get("id") for n in nodes if isinstance(n, dict) and n.get("type") in RUNNABLE}
    return web.json_response(
        {
            "pipeline": pipeline_json(row),
            "jobs": jobs_json(j for j in latest if j.node_id in training),
            "orphan_jobs": jobs_json(j for j in across if j.node_id not in training),
        }
    )


OPERATIONS = [
    Operation(
        "PUT",
        "/pipelines",
        save_pipeline,
        "save_pipeline",
        "Save a graph; the pipeline id is derived from the dataset and the graph hash",
        "pipelines",
        {200: PipelineSaved, 201: PipelineSaved},
        body=PipelineIn,
        errors=(404,),
    ),
    Operation(
        "GET",
        "/pipelines/{pipeline_id}",
        hydrate_pipeline,
        "get_pipeline",
        "The graph and the latest job of each training node (hydration)",
        "pipelines",
        {200: PipelineHydrated},
        path_params=PIPELINE_ID,
    ),
]
