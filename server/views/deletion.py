"""``DELETE`` of pipelines, training jobs and model versions (the rules: :mod:`store.deletion`).

Rows go first, in one transaction; their artifact files are removed after commit. A file
that cannot be removed is logged and left (the rows that named it are gone, so nothing
serves it); a crash between commit and removal leaves files without rows, never rows
without files.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from server.auth import reader_of
from server.keys import BLOBS, SESSIONS, USER
from server.routing import Operation
from server.schemas.deletion import Deleted
from server.views.jobs import JOB_ID
from server.views.pipelines import PIPELINE_ID
from server.views.versions import VERSION, version_number
from store.blobs import MODELS_PREFIX, BlobStore, check_key
from store.deletion import Removed, delete_job, delete_pipeline, delete_version
from store.engine import Session
from store.errors import BlobError
from store.reader import Reader

log = logging.getLogger(__name__)
ARTIFACT_SUFFIX = ".joblib"


def remove_files(store: BlobStore, removed: Removed) -> int:
    """Remove the objects of ``removed``: the recorded URIs, and every object of its jobs
    (each attempt's model, model cards, reports: ``uploads/models/<pipeline>/<job>.*``).
    Returns the number of models removed."""
    keys: set[str] = set()
    for uri in removed.artifact_uris:
        try:
            keys.add(store.key(uri))
        except BlobError:  # a row naming something outside the artifacts root never deletes it
            log.warning("artifact %s lies outside the artifacts root and stays", uri)
    folder = f"{MODELS_PREFIX}{removed.pipeline_id}/"
    try:
        check_key(folder.rstrip("/"))
        listed = store.list(folder) if removed.job_ids else []
    except BlobError as exc:
        log.warning("could not list the artifacts of pipeline %s: %s", removed.pipeline_id, exc)
        listed = []
    owners = tuple(f"{folder}{job_id}." for job_id in removed.job_ids)
    keys.update(key for key in listed if key.startswith(owners))
    count = 0
    for key in keys:
        try:
            removed_one = store.delete(key)
            count += removed_one and key.endswith(ARTIFACT_SUFFIX)  # model cards and reports go uncounted
        except BlobError as exc:
            log.warning("could not remove artifact %s: %s", key, exc)
    return count


async def _deleted(
    request: web.Request, kind: str, ref: str, delete: Callable[[Session, Reader], Awaitable[Removed]]
) -> web.Response:
    """Run ``delete`` in one transaction, then remove the files of what it removed."""
    async with request.app[SESSIONS].begin() as session:
        removed = await delete(session, reader_of(request))
    files = await asyncio.to_thread(remove_files, request.app[BLOBS].artifacts, removed)
    return web.json_response({"deleted": kind, "id": ref, "artifacts_removed": files})


async def delete_pipeline_view(request: web.Request) -> web.Response:
    pipeline_id = request.match_info["pipeline_id"]
    return await _deleted(
        request, "pipeline", pipeline_id, lambda session, reader: delete_pipeline(session, pipeline_id, reader=reader)
    )


async def delete_job_view(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    return await _deleted(
        request, "training_job", job_id, lambda session, reader: delete_job(session, job_id, reader=reader)
    )


async def delete_version_view(request: web.Request) -> web.Response:
    pipeline_id, node_id = request.match_info["pipeline_id"], request.match_info["node_id"]
    number = version_number(request)
    by = request[USER].name

    async def delete(session: Session, reader: Reader) -> Removed:
        _, removed = await delete_version(session, pipeline_id, node_id, number, reader=reader, by=by)
        return removed

    return await _deleted(request, "model_version", f"{pipeline_id}/{node_id}/v{number}", delete)


OPERATIONS = [
    Operation(
        "DELETE",
        "/pipelines/{pipeline_id}",
        delete_pipeline_view,
        "delete_pipeline",
        "Delete a pipeline with its jobs, versions, aliases and artifacts (409 while a job is active on it)",
        "pipelines",
        {200: Deleted},
        path_params=PIPELINE_ID,
        errors=(409,),
    ),
    Operation(
        "DELETE",
        "/training-jobs/{job_id}",
        delete_job_view,
        "delete_training_job",
        "Delete a finished job without a model version, with its events (409 when active or it made a version)",
        "training-jobs",
        {200: Deleted},
        path_params=JOB_ID,
        errors=(409,),
    ),
    Operation(
        "DELETE",
        "/pipelines/{pipeline_id}/nodes/{node_id}/versions/{version}",
        delete_version_view,
        "delete_model_version",
        "Delete a model version: it stays in the history as deleted, its number is never reused, its artifact "
        "goes (409 while an alias points at it)",
        "versions",
        {200: Deleted},
        path_params=VERSION,
        errors=(409,),
    ),
]
