"""Training jobs: read, list, audit trail, artifact; submit and cancel via the actor's service."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from actors.jobs.service import SubmitRequest, cancel_training_job, submit_training_job
from actors.ml.model_card import card_relpath
from server.auth import reader_of
from server.downloads import stream_object
from server.errors import NotFoundError, UnprocessableEntity
from server.json_out import json_response, large_json_response
from server.keys import BLOBS, JOBS, OFFLOAD, ROWS, SESSIONS
from server.parsing import OFFLOAD_BODY_BYTES, parse_query, read_json, read_optional_json
from server.routing import Operation
from server.schemas.common import NoFieldsIn
from server.schemas.jobs import EventsOut, EventsQuery, JobListQuery, JobOut, JobPage, SubmitJobIn
from server.serialize import event_for, job_json, jobs_json
from store.engine import Session, read_session
from store.errors import BlobError
from store.job_listing import list_jobs
from store.job_queries import events_since, get_job
from store.job_view import get_job_view
from store.kinds import JobKind
from store.models import TrainingJob
from store.pipeline_queries import pipeline_names
from store.reader import Reader

JOB_ID = {"job_id": {"type": "string", "minLength": 1, "maxLength": 64}}


def _submission(body: SubmitJobIn, large: bool) -> SubmitRequest:
    return SubmitRequest(
        dataset_source_id=body.dataset_source_id,
        node_id=body.node_id,
        graph=body.graph.model_dump(mode="json", exclude_unset=True),
        config=body.config.model_dump(mode="json", exclude_unset=True) if body.config is not None else None,
        pipeline_id=body.pipeline_id,
        idempotency_key=body.idempotency_key,
        large=large,
    )


async def submit_job(request: web.Request) -> web.Response:
    body = await read_json(request, SubmitJobIn)
    reader = reader_of(request)
    # Dumping, validating and hashing a large graph is CPU work: on the bounded executor, like
    # its decoding. A small one costs less than the hand-off and runs here.
    large = len(await request.read()) > OFFLOAD_BODY_BYTES
    if large:
        submission = await request.app[OFFLOAD].run(reader.user_id or "", _submission, body, large)
    else:
        submission = _submission(body, large)
    job = await submit_training_job(request.app[JOBS], reader, submission)
    if large:
        return await large_json_response(request, job_json(job), status=202)
    return web.json_response(job_json(job), status=202)


async def cancel_job(request: web.Request) -> web.Response:
    await read_optional_json(request, NoFieldsIn)
    job = await cancel_training_job(request.app[JOBS], reader_of(request), request.match_info["job_id"])
    # A job may carry a thousand warnings or large metrics: such a document is encoded off the loop.
    return await json_response(request, job_json(job), status=202)


async def _named(session: Session, items: list[dict[str, Any]], reader: Reader) -> list[dict[str, Any]]:
    """Add what people call the pipeline and the node (``pipeline_name``, ``node_label``)."""
    names = await pipeline_names(session, [i["pipeline_id"] for i in items], reader=reader)
    for item in items:
        known = names.get(item["pipeline_id"])
        item["pipeline_name"] = known.name if known else None
        item["node_label"] = known.node_labels.get(item["node_id"]) if known else None
    return items


async def get_training_job(request: web.Request) -> web.Response:
    reader = reader_of(request)
    # The hottest read of the API (clients poll it): one statement, no ORM (store.job_view).
    view = await get_job_view(request.app[ROWS], request.match_info["job_id"], reader=reader)
    out = job_json(view.job, is_admin=reader.is_admin)
    out["pipeline_name"], out["node_label"] = view.pipeline_name, view.node_label
    return web.json_response(out)


async def _job_listing(request: web.Request, *, mine: bool) -> web.Response:
    query = parse_query(request, JobListQuery)
    for name, bound in (("created_after", query.created_after), ("created_before", query.created_before)):
        if bound is not None and bound.tzinfo is None:
            raise UnprocessableEntity(f"{name} must include a time zone (e.g. Z)", details={"field": name})
    reader = reader_of(request)
    async with read_session(request.app[SESSIONS]) as session:
        page = await list_jobs(
            session,
            reader=reader,
            user_id=reader.user_id if mine else None,
            pipeline_id=query.pipeline_id,
            node_id=query.node_id,
            status=query.status or None,
            kind=query.kind or None,
            model_type=query.model_type,
            tag=query.tag,
            text=query.q,
            created_after=query.created_after,
            created_before=query.created_before,
            order_by=query.order_by,
            limit=query.limit,
            cursor=query.cursor,
        )
        items = await _named(session, jobs_json(page.items, is_admin=reader.is_admin), reader)
    return web.json_response({"items": items, "next_cursor": page.next_cursor})


async def list_training_jobs(request: web.Request) -> web.Response:
    return await _job_listing(request, mine=False)


async def list_my_training_jobs(request: web.Request) -> web.Response:
    return await _job_listing(request, mine=True)


async def list_job_events(request: web.Request) -> web.Response:
    query = parse_query(request, EventsQuery)
    job_id = request.match_info["job_id"]
    reader = reader_of(request)
    async with read_session(request.app[SESSIONS]) as session:
        job = await get_job(session, job_id, reader=reader)
        events = await events_since(session, job_id, query.since, reader=reader, limit=query.limit)
    shown = [event_for(event, is_admin=reader.is_admin) for event in events]
    return web.json_response({"job_id": job.id, "events": shown, "last_seq": job.last_seq})


async def _job_with_model(request: web.Request, missing: str) -> tuple[TrainingJob, str]:
    """The request's job and its model's URI, or a 404 (``no_artifact``: the job has no ``missing``)."""
    async with read_session(request.app[SESSIONS]) as session:
        job = await get_job(session, request.match_info["job_id"], reader=reader_of(request))
    if job.kind != JobKind.TRAINING.value:
        raise NotFoundError(f"job {job.id} is a {job.kind} job: it has no {missing} (a predictions job's output "
                            "downloads from /training-jobs/{job_id}/predictions)", code="no_artifact")
    if not job.model_artifact_uri:
        raise NotFoundError(f"job {job.id} has no {missing} (status {job.status})", code="no_artifact")
    return job, job.model_artifact_uri


async def _stream_stored(
    request: web.Request, uri: str, sha256: str | None, filename: str, gone: NotFoundError, **options: Any
) -> web.StreamResponse:
    """Stream an object of the artifacts store; ``gone`` when the row names an object that is not there."""
    blobs = request.app[BLOBS]
    try:
        return await stream_object(
            request, blobs.artifacts, uri, sha256, filename, presign_expiry_s=blobs.presign_expiry_s, **options
        )
    except BlobError as exc:
        if exc.code not in ("blob_missing", "blob_outside_root"):
            raise
        raise gone from None


async def download_artifact(request: web.Request) -> web.StreamResponse:
    job, uri = await _job_with_model(request, "model artifact")
    gone = NotFoundError(f"the artifact of job {job.id} is missing from storage", code="artifact_missing")
    return await _stream_stored(request, uri, job.artifact_sha256, f"{job.id}.joblib", gone)


async def download_model_card(request: web.Request) -> web.StreamResponse:
    job, uri = await _job_with_model(request, "model")
    gone = NotFoundError(
        f"job {job.id} has no model card (its model was trained before model cards existed, "
        "or the card is missing from storage)",
        code="no_model_card",
    )
    card = card_relpath(uri)
    return await _stream_stored(request, card, None, f"{job.id}.card.json", gone, content_type="application/json")


_BINARY = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
_CARD = {"application/json": {"schema": {
    "type": "object",
    "description": "The model card (format mlw.model-card/1): inputs and dtypes, target, classes, metrics, "
                   "hyperparameters, library versions, data hash and the artifact's sha256.",
    "required": ["format", "model_type", "task", "target", "features", "inputs", "metrics", "artifact"],
    "additionalProperties": True,
}}}

OPERATIONS = [
    Operation(
        "POST",
        "/training-jobs",
        submit_job,
        "submit_training_job",
        "Validate, autosave the pipeline and queue a training job (answers at once)",
        "training-jobs",
        {202: JobOut},
        body=SubmitJobIn,
        errors=(404, 409, 503),
    ),
    Operation(
        "POST",
        "/training-jobs/{job_id}/cancel",
        cancel_job,
        "cancel_training_job",
        "Cancel a job; idempotent (a finished job is returned as it is)",
        "training-jobs",
        {202: JobOut},
        body=NoFieldsIn,
        body_required=False,
        path_params=JOB_ID,
    ),
    Operation(
        "GET",
        "/training-jobs",
        list_training_jobs,
        "list_training_jobs",
        "Jobs the caller may read (all users' for an admin), filtered and paged",
        "training-jobs",
        {200: JobPage},
        query=JobListQuery,
    ),
    Operation(
        "GET",
        "/users/me/training-jobs",
        list_my_training_jobs,
        "list_my_training_jobs",
        "The caller's own jobs (the dashboard)",
        "training-jobs",
        {200: JobPage},
        query=JobListQuery,
    ),
    Operation(
        "GET",
        "/training-jobs/{job_id}",
        get_training_job,
        "get_training_job",
        "A job's status, progress, metrics, error, timestamps, version and artifact",
        "training-jobs",
        {200: JobOut},
        path_params=JOB_ID,
    ),
    Operation(
        "GET",
        "/training-jobs/{job_id}/events",
        list_job_events,
        "list_training_job_events",
        "The job's audit trail: persisted events after `since`",
        "training-jobs",
        {200: EventsOut},
        query=EventsQuery,
        path_params=JOB_ID,
    ),
    Operation(
        "GET",
        "/training-jobs/{job_id}/artifact",
        download_artifact,
        "download_training_job_artifact",
        "The trained model (joblib) of a succeeded job",
        "training-jobs",
        {200: _BINARY},
        path_params=JOB_ID,
    ),
    Operation(
        "GET",
        "/training-jobs/{job_id}/model-card",
        download_model_card,
        "download_training_job_model_card",
        "The model card (JSON) stored beside the artifact of a succeeded job",
        "training-jobs",
        {200: _CARD},
        path_params=JOB_ID,
    ),
]
