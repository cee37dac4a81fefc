"""A job's insights: the learning curve (live while it fits) and the explain stage's findings."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.auth import reader_of
from server.keys import SESSIONS
from server.routing import Operation
from server.schemas.insights import InsightsOut
from store.engine import read_session
from store.insights import get_insights

JOB_ID = {"job_id": {"type": "string", "minLength": 1, "maxLength": 64}}
FINDINGS = ("feature_importance", "roc", "pr", "calibration", "confusion_matrix", "residuals", "explain")


async def get_job_insights(request: web.Request) -> web.Response:
    async with read_session(request.app[SESSIONS]) as session:
        found = await get_insights(session, request.match_info["job_id"], reader=reader_of(request))
    job = found["job"]
    body: dict[str, Any] = {"job_id": job.id, "status": job.status, "model_type": job.model_type}
    if found["learning_curve"]:
        body["learning_curve"] = found["learning_curve"]
    stopping = (job.metrics or {}).get("early_stopping")
    if stopping:
        body["early_stopping"] = stopping
    findings = found["insights"] or {}
    body.update({key: findings[key] for key in FINDINGS if findings.get(key) is not None})
    return web.json_response(body)


OPERATIONS = [
    Operation(
        "GET",
        "/training-jobs/{job_id}/insights",
        get_job_insights,
        "get_training_job_insights",
        "The job's learning curve (live while it fits), feature importance and diagnostic curves",
        "training-jobs",
        {200: InsightsOut},
        path_params=JOB_ID,
    ),
]
