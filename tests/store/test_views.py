"""Views: the fixed field names of DESIGN section 9, JSON-ready (both databases)."""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.job_queries import get_job
from store.jobs import transition
from store.states import JobStatus
from store.views import dataset_view, job_view, pipeline_view
from tests.store.conftest import Tenants, new_job

JOB_FIELDS = {
    "id", "status", "pipeline_id", "node_id", "model_type", "hyperparameters", "resolved_hyperparameters",
    "progress", "metrics", "warnings", "error_code", "error_message", "model_version", "model_artifact_uri",
    "attempt", "cancel_requested", "created_at", "started_at", "finished_at",
}  # fmt: skip


async def test_a_job_view_has_the_fixed_names_and_serializes_to_json(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    job = await new_job(session_factory, tenants.alice)
    async with session_factory.begin() as session:
        queued = job_view(await get_job(session, job.id, reader=tenants.alice.reader))
        await transition(session, job.id, JobStatus.CANCELLED)
        cancelled = job_view(await get_job(session, job.id, reader=tenants.alice.reader))
    assert set(queued) >= JOB_FIELDS
    assert queued["cancel_requested"] is False and cancelled["cancel_requested"] is True
    assert cancelled["finished_at"] is not None and cancelled["finished_at"].endswith("+00:00")
    json.dumps([queued, cancelled, dataset_view(tenants.alice.dataset), pipeline_view(tenants.alice.pipeline)])
