"""What every kind of submission shares: the admission checks, the record, the send.

Each kind's service (``service``, ``validation_service``, ``predictions_service``) says
what to check and what row to create; :func:`record_then_send` does the rest the same way
for all of them: the idempotency key, the turn (``admit_next``), the commit then the
publish, the twin that won a race on the key, and the message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.errors import ActiveJobConflict, BrokerUnavailable, QuotaExceeded
from actors.jobs.context import JobContext
from actors.jobs.dispatch import send_admitted
from actors.jobs.outcomes import commit_then_publish, finish_failed
from store.admission import admit_next
from store.errors import DuplicateIdempotencyKey
from store.job_queries import active_job_for_node, count_active, find_by_idempotency_key
from store.jobs import TransitionResult
from store.models import Pipeline, TrainingJob, User
from store.settings import JobsSettings
from store.states import JobStatus

log = logging.getLogger(__name__)

CreateJob = Callable[[AsyncSession], Awaitable[TransitionResult]]
"""Checks what the kind needs and inserts its queued job, inside the submission's transaction."""

SameJob = Callable[[TrainingJob], TrainingJob]
"""The job already recorded under the idempotency key, if its body matches (else raises)."""


async def _lock_for_submission(session: AsyncSession, user_id: str, pipeline_id: str) -> None:
    """Serialize submissions that share a user or a node (quota and one-active checks).

    On PostgreSQL row locks do it; SQLite write transactions are already serial.
    """
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(User.id).where(User.id == user_id).with_for_update())
        await session.execute(select(Pipeline.pipeline_id).where(Pipeline.pipeline_id == pipeline_id).with_for_update())


async def check_room(
    session: AsyncSession, jobs_cfg: JobsSettings, user_id: str, pipeline_id: str, node_id: str
) -> None:
    """The admission checks of every kind of job run on a node, under the submission lock.

    Raises:
        ActiveJobConflict: the node already has an active job (``jobs.one_active_per_node``).
        QuotaExceeded: the user has ``jobs.max_active_per_user`` active jobs.
    """
    await _lock_for_submission(session, user_id, pipeline_id)
    if jobs_cfg.one_active_per_node:
        active = await active_job_for_node(session, pipeline_id, node_id)
        if active is not None:
            raise node_conflict(node_id, active.id, active.status)
    await check_quota(session, jobs_cfg, user_id)


def node_conflict(node_id: str, active_id: str, status: str) -> ActiveJobConflict:
    """The refusal of a job on a node that already has an active one (``jobs.one_active_per_node``)."""
    return ActiveJobConflict(
        f"node {node_id!r} already has an active job ({active_id}, {status})",
        details={"active_job_id": active_id, "status": status},
    )


def quota_exceeded(jobs_cfg: JobsSettings) -> QuotaExceeded:
    """The refusal of a job to a user with ``jobs.max_active_per_user`` active ones."""
    return QuotaExceeded(
        f"you already have {jobs_cfg.max_active_per_user} active jobs (jobs.max_active_per_user)",
        details={"max_active_per_user": jobs_cfg.max_active_per_user},
    )


async def check_quota(session: AsyncSession, jobs_cfg: JobsSettings, user_id: str) -> None:
    """Refuse a new job to a user who has ``jobs.max_active_per_user`` active ones.

    Raises:
        QuotaExceeded: the user is at the limit.
    """
    limit = jobs_cfg.max_active_per_user
    if await count_active(session, user_id, at_most=limit) >= limit:  # counting stops at the limit
        raise quota_exceeded(jobs_cfg)


async def record_then_send(
    ctx: JobContext, user_id: str, idempotency_key: str | None, same: SameJob, create: CreateJob
) -> TrainingJob:
    """Record a submission in one transaction, publish its event, then send the admitted messages.

    Args:
        ctx: The job context.
        user_id: Who submits.
        idempotency_key: When given, a job already recorded under it is handed back
            (through ``same``) instead of creating another.
        same: Checks that the key's job came from the same body.
        create: The kind's checks and insert (see :data:`CreateJob`).

    Raises:
        IdempotencyKeyReused: (from ``same``) the key was used for another body.
        BrokerUnavailable: the message could not be sent; the job was failed.
    """
    created: list[TrainingJob] = []
    admitted: list[TrainingJob] = []

    async def work(session: AsyncSession) -> list[dict[str, Any]] | None:
        if idempotency_key:
            existing = await find_by_idempotency_key(session, user_id, idempotency_key)
            if existing is not None:
                created.append(same(existing))
                return []
        result = await create(session)
        created.append(result.job)
        # In turn, under jobs.max_running_per_user: this job and any other waiting one.
        admitted.extend(await admit_next(session, ctx.settings.jobs.max_running_per_user))
        return [result.event]

    try:
        events = await commit_then_publish(ctx, user_id, work)
    except DuplicateIdempotencyKey:
        # A concurrent twin with the same key won; hand back its job.
        async with ctx.sessions() as session:
            twin = await find_by_idempotency_key(session, user_id, idempotency_key or "")
        if twin is None:
            raise
        return same(twin)
    job = created[0]
    if events != []:
        await send_submitted(ctx, job, admitted)
    return job


async def send_submitted(ctx: JobContext, job: TrainingJob, admitted: list[TrainingJob]) -> None:
    """Send the admitted jobs' messages; a job left waiting is sent when its turn comes.

    The submitted job itself is failed when its message cannot be sent, so the caller
    learns at once that the broker is away (others admitted with it wait for the next dispatch).
    """
    report = await send_admitted(ctx, admitted)
    exc = report.failed.get(job.id)
    if exc is not None:
        raise await fail_unsent(ctx, job, exc) from exc


async def fail_unsent(ctx: JobContext, job: TrainingJob, exc: Exception) -> BrokerUnavailable:
    """Fail a just-submitted job whose message could not be sent; returns the error to raise."""
    log.error("could not send the message of job %s: %s", job.id, exc)
    await finish_failed(
        ctx, job, "broker_unavailable", f"the job could not be queued: {exc}", expected=(JobStatus.QUEUED,)
    )
    return BrokerUnavailable(
        "the job was recorded but could not be queued; it has been marked failed",
        details={"job_id": job.id},
    )
