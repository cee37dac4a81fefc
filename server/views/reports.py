"""A validation job's report: as JSON, and as a standalone HTML file to download."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.auth import reader_of
from server.errors import ConflictError, NotFoundError
from server.keys import SESSIONS
from server.report_html import render_report
from server.routing import Operation
from server.schemas.reports import ValidationReportOut
from store.engine import read_session
from store.insights import get_insights
from store.kinds import JobKind

JOB_ID = {"job_id": {"type": "string", "minLength": 1, "maxLength": 64}}
HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""The HTML file runs no script and loads nothing: its data are escaped, and this says so twice."""


async def _report(request: web.Request) -> dict[str, Any]:
    async with read_session(request.app[SESSIONS]) as session:
        found = await get_insights(session, request.match_info["job_id"], reader=reader_of(request))
    job = found["job"]
    if job.kind != JobKind.VALIDATION.value:
        raise NotFoundError(f"job {job.id} is a {job.kind} job; only validation jobs have a report",
                            code="not_a_validation_job")
    report = (found["insights"] or {}).get("validation_report")
    if report is None:
        raise ConflictError(f"job {job.id} has no report yet (status {job.status})", code="report_not_ready",
                            details={"status": job.status})
    config = job.config or {}
    data = {**report.get("data", {}), "dataset_source_id": config.get("dataset_source_id") or job.dataset_source_id}
    return {**report, "data": data, "job_id": job.id, "pipeline_id": job.pipeline_id, "node_id": job.node_id,
            "train_node_id": config.get("train_node_id")}


async def get_report(request: web.Request) -> web.Response:
    return web.json_response(await _report(request))


async def get_report_html(request: web.Request) -> web.Response:
    report = await _report(request)
    headers = {"Content-Disposition": f'attachment; filename="validation-{report["job_id"]}.html"',
               "Content-Security-Policy": HTML_CSP}
    return web.Response(text=render_report(report), content_type="text/html", charset="utf-8", headers=headers)


_HTML = {"text/html": {"schema": {"type": "string", "description": "A standalone HTML document (no script, no "
                                  "external asset) of the report."}}}

OPERATIONS = [
    Operation(
        "GET",
        "/training-jobs/{job_id}/report",
        get_report,
        "get_validation_report",
        "A validation job's report: metrics per version on the same rows, paired differences, curves, data checks",
        "training-jobs",
        {200: ValidationReportOut},
        path_params=JOB_ID,
        errors=(404, 409),
    ),
    Operation(
        "GET",
        "/training-jobs/{job_id}/report.html",
        get_report_html,
        "download_validation_report_html",
        "The validation report as one standalone HTML file (an attachment)",
        "training-jobs",
        {200: _HTML},
        path_params=JOB_ID,
        errors=(404, 409),
    ),
]
