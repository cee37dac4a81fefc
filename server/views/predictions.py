"""Batch predictions: submit a predictions job for a model version, download its output.

``POST .../versions/{version}/predictions`` takes a version number or an alias name; the
job is recorded and run like a training job (same states, events, cancel, tenancy) by the
predictions actor. ``GET /training-jobs/{job_id}/predictions`` serves the output file.
"""

from __future__ import annotations

from aiohttp import web

from actors.jobs.predictions_service import PredictionsRequest, submit_predictions_job
from server.auth import reader_of
from server.downloads import stream_object
from server.errors import NotFoundError
from server.keys import BLOBS, JOBS, SESSIONS
from server.parsing import read_json
from server.routing import Operation
from server.schemas.jobs import JobOut
from server.schemas.predictions import PredictionsIn
from server.serialize import job_json
from server.version_ref import VERSION_REF_SCHEMA, version_ref_param
from server.views.jobs import JOB_ID
from server.views.versions import NODE
from store.engine import read_session
from store.errors import BlobError
from store.job_queries import get_job
from store.kinds import JobKind

MEDIA_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}


async def submit_predictions(request: web.Request) -> web.Response:
    version = version_ref_param(request)
    body = await read_json(request, PredictionsIn)
    submission = PredictionsRequest(
        pipeline_id=request.match_info["pipeline_id"], node_id=request.match_info["node_id"], version=version,
        dataset_source_id=body.dataset_id, format=body.format, idempotency_key=body.idempotency_key,
    )
    job = await submit_predictions_job(request.app[JOBS], reader_of(request), submission)
    return web.json_response(job_json(job), status=202)


async def download_predictions(request: web.Request) -> web.StreamResponse:
    async with read_session(request.app[SESSIONS]) as session:
        job = await get_job(session, request.match_info["job_id"], reader=reader_of(request))
    if job.kind != JobKind.PREDICTIONS.value:
        raise NotFoundError(f"job {job.id} is a {job.kind} job, not a predictions job", code="no_predictions")
    if not job.model_artifact_uri:
        raise NotFoundError(f"job {job.id} has no predictions yet (status {job.status})", code="no_predictions")
    fmt = str((job.config or {}).get("format") or "csv")
    blobs = request.app[BLOBS]
    try:
        return await stream_object(
            request, blobs.artifacts, job.model_artifact_uri, job.artifact_sha256, f"{job.id}.predictions.{fmt}",
            content_type=MEDIA_TYPES.get(fmt, "application/octet-stream"), presign_expiry_s=blobs.presign_expiry_s,
        )
    except BlobError as exc:
        if exc.code not in ("blob_missing", "blob_outside_root"):
            raise
        raise NotFoundError(f"the predictions of job {job.id} are missing from storage",
                            code="artifact_missing") from None

_FILE = {media: {"schema": {"type": "string", "format": "binary"}} for media in MEDIA_TYPES.values()}

OPERATIONS = [
    Operation(
        "POST",
        "/pipelines/{pipeline_id}/nodes/{node_id}/versions/{version}/predictions",
        submit_predictions,
        "submit_predictions_job",
        "Queue a batch-predictions job: a model version (number or alias) over an uploaded dataset",
        "predictions",
        {202: JobOut},
        body=PredictionsIn,
        path_params={**NODE, "version": VERSION_REF_SCHEMA},
        errors=(404, 409, 503),
    ),
    Operation(
        "GET",
        "/training-jobs/{job_id}/predictions",
        download_predictions,
        "download_predictions",
        "The output of a succeeded predictions job (CSV or Parquet: the input's columns, the prediction, "
        "class probabilities)",
        "predictions",
        {200: _FILE},
        path_params=JOB_ID,
    ),
]
