"""Reads of training jobs and their events, always scoped by a :class:`~store.reader.Reader`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import NotFound
from store.kinds import JobKind
from store.models import TrainingJob, TrainingJobEvent
from store.reader import Reader
from store.states import ACTIVE, JobStatus
from store.submission_writes import count_active_jobs

_ACTIVE_VALUES = sorted(s.value for s in ACTIVE)


async def get_job(session: AsyncSession, job_id: str, *, reader: Reader) -> TrainingJob:
    """The job ``job_id`` if ``reader`` may see it (fresh from the database).

    Raises:
        NotFound: missing, or another user's job.
    """
    stmt = (
        select(TrainingJob)
        .where(TrainingJob.id == job_id, reader.owns(TrainingJob.user_id))
        .execution_options(populate_existing=True)
    )
    job = (await session.scalars(stmt)).one_or_none()
    if job is None:
        raise NotFound("job", job_id)
    return job


async def job_graph(session: AsyncSession, job_id: str) -> dict[str, Any]:
    """The graph job ``job_id`` runs (not loaded with the row: see ``TrainingJob.graph``).

    Raises:
        NotFound: there is no such job.
    """
    graph = (await session.execute(select(TrainingJob.graph).where(TrainingJob.id == job_id))).scalar_one_or_none()
    if graph is None:
        raise NotFound("job", job_id)
    return dict(graph)


async def find_by_idempotency_key(session: AsyncSession, user_id: str, key: str) -> TrainingJob | None:
    """The job ``user_id`` created with idempotency ``key``, if any."""
    stmt = select(TrainingJob).where(TrainingJob.user_id == user_id, TrainingJob.idempotency_key == key)
    return (await session.scalars(stmt)).one_or_none()


async def count_active(session: AsyncSession, user_id: str, *, at_most: int | None = None) -> int:
    """How many of ``user_id``'s jobs are queued, running or cancelling (counting stops at ``at_most``)."""
    return await count_active_jobs(session, user_id, at_most=at_most)  # every submission asks: prebuilt


async def active_job_for_node(
    session: AsyncSession, pipeline_id: str, node_id: str, kind: str = JobKind.TRAINING.value
) -> TrainingJob | None:
    """The newest active job of ``kind`` on a node, if any (for ``jobs.one_active_per_node``).

    Only jobs of the same kind count: batch predictions of a node's model never hold back
    the training of its next version.
    """
    stmt = (
        select(TrainingJob)
        .where(
            TrainingJob.pipeline_id == pipeline_id,
            TrainingJob.node_id == node_id,
            TrainingJob.kind == kind,
            TrainingJob.status.in_(_ACTIVE_VALUES),
        )
        .order_by(TrainingJob.created_at.desc(), TrainingJob.id.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).first()


async def stale_jobs(session: AsyncSession, *, heartbeat_before: dt.datetime, limit: int = 100) -> list[TrainingJob]:
    """Running or cancelling jobs whose last heartbeat (or start) is older than ``heartbeat_before``."""
    last_sign = func.coalesce(TrainingJob.heartbeat_at, TrainingJob.started_at, TrainingJob.updated_at)
    stmt = (
        select(TrainingJob)
        .where(
            TrainingJob.status.in_([JobStatus.RUNNING.value, JobStatus.CANCELLING.value]),
            last_sign < heartbeat_before,
        )
        .order_by(TrainingJob.created_at)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def queued_jobs_to_resend(
    session: AsyncSession, *, updated_before: dt.datetime, limit: int = 100
) -> list[TrainingJob]:
    """Admitted queued jobs whose row last changed before ``updated_before``, least recently changed first.

    Only admitted jobs have a message to lose; waiting ones are sent by ``actors.jobs.dispatch``.

    The reaper re-sends their messages, which may have been lost; ``updated_at`` is bumped
    by every transition and by :func:`store.jobs.touch_queued` after each re-send.
    """
    stmt = (
        select(TrainingJob)
        .where(
            TrainingJob.status == JobStatus.QUEUED.value,
            TrainingJob.admitted_at.is_not(None),
            TrainingJob.updated_at < updated_before,
        )
        .order_by(TrainingJob.updated_at, TrainingJob.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def events_since(
    session: AsyncSession, job_id: str, seq: int = 0, *, reader: Reader, limit: int | None = None
) -> list[dict[str, Any]]:
    """The job's persisted events with a seq greater than ``seq``, in order, as published.

    Raises:
        NotFound: the job is missing or another user's.
    """
    await get_job(session, job_id, reader=reader)
    stmt = (
        select(TrainingJobEvent.payload)
        .where(TrainingJobEvent.job_id == job_id, TrainingJobEvent.seq > seq)
        .order_by(TrainingJobEvent.seq)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [dict(p) for p in (await session.scalars(stmt)).all()]


async def active_jobs_by_worker(session: AsyncSession) -> list[tuple[str, str | None, str, dt.datetime | None]]:
    """``(job id, worker, status, last heartbeat)`` of every running or cancelling job (for ``GET /workers``)."""
    stmt = (
        select(TrainingJob.id, TrainingJob.worker, TrainingJob.status, TrainingJob.heartbeat_at)
        .where(TrainingJob.status.in_([JobStatus.RUNNING.value, JobStatus.CANCELLING.value]))
        .order_by(TrainingJob.created_at)
    )
    return [(row[0], row[1], row[2], row[3]) for row in (await session.execute(stmt)).all()]
