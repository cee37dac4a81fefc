"""Reads of training jobs and their events, always scoped by a :class:`~store.reader.Reader`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.cursor import decode_cursor, encode_cursor
from store.errors import IllegalTransition, InvalidInput, NotFound
from store.models import Pipeline, TrainingJob, TrainingJobEvent
from store.reader import Reader
from store.states import ACTIVE, JobStatus, parse_status

MAX_PAGE = 500
_ACTIVE_VALUES = sorted(s.value for s in ACTIVE)


@dataclasses.dataclass(frozen=True)
class JobPage:
    """One page of jobs, newest first; ``next_cursor`` is ``None`` on the last page."""

    items: list[TrainingJob]
    next_cursor: str | None


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


def _statuses(status: str | JobStatus | Iterable[str | JobStatus]) -> list[str]:
    values = [status] if isinstance(status, str) else list(status)
    try:
        return sorted({parse_status(s).value for s in values})
    except IllegalTransition as exc:
        raise InvalidInput("status", str(exc)) from None


async def list_jobs(
    session: AsyncSession,
    *,
    reader: Reader,
    user_id: str | None = None,
    pipeline_id: str | None = None,
    node_id: str | None = None,
    status: str | JobStatus | Iterable[str | JobStatus] | None = None,
    model_type: str | None = None,
    created_after: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> JobPage:
    """Jobs the reader may see, newest first, filtered and paged by an opaque cursor.

    Paging is keyset on ``(created_at, id)``, so it is stable while new jobs arrive.
    ``created_after`` is inclusive and ``created_before`` exclusive.

    Raises:
        InvalidInput: a bad ``limit``, ``status`` or ``cursor``; the error names it.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE}")
    clauses: list[Any] = [reader.owns(TrainingJob.user_id)]
    if user_id is not None:
        clauses.append(TrainingJob.user_id == user_id)
    if pipeline_id is not None:
        clauses.append(TrainingJob.pipeline_id == pipeline_id)
    if node_id is not None:
        clauses.append(TrainingJob.node_id == node_id)
    if status is not None:
        clauses.append(TrainingJob.status.in_(_statuses(status)))
    if model_type is not None:
        clauses.append(TrainingJob.model_type == model_type)
    for name, moment in (("created_after", created_after), ("created_before", created_before)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(name, "must be timezone-aware")
    if created_after is not None:
        clauses.append(TrainingJob.created_at >= created_after)
    if created_before is not None:
        clauses.append(TrainingJob.created_at < created_before)
    if cursor:
        at, last_id = decode_cursor(cursor)
        clauses.append(or_(TrainingJob.created_at < at, and_(TrainingJob.created_at == at, TrainingJob.id < last_id)))
    stmt = (
        select(TrainingJob)
        .where(*clauses)
        .order_by(TrainingJob.created_at.desc(), TrainingJob.id.desc())
        .limit(limit + 1)
    )
    rows = list((await session.scalars(stmt)).all())
    if len(rows) <= limit:
        return JobPage(items=rows, next_cursor=None)
    rows = rows[:limit]
    return JobPage(items=rows, next_cursor=encode_cursor(rows[-1].created_at, rows[-1].id))


async def find_by_idempotency_key(session: AsyncSession, user_id: str, key: str) -> TrainingJob | None:
    """The job ``user_id`` created with idempotency ``key``, if any."""
    stmt = select(TrainingJob).where(TrainingJob.user_id == user_id, TrainingJob.idempotency_key == key)
    return (await session.scalars(stmt)).one_or_none()


async def count_active(session: AsyncSession, user_id: str) -> int:
    """How many of ``user_id``'s jobs are queued, running or cancelling."""
    stmt = select(func.count()).where(TrainingJob.user_id == user_id, TrainingJob.status.in_(_ACTIVE_VALUES))
    return int((await session.execute(stmt)).scalar_one())


async def active_job_for_node(session: AsyncSession, pipeline_id: str, node_id: str) -> TrainingJob | None:
    """The newest active job of a node, if any (for ``jobs.one_active_per_node``)."""
    stmt = (
        select(TrainingJob)
        .where(
            TrainingJob.pipeline_id == pipeline_id,
            TrainingJob.node_id == node_id,
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


def search_clauses(*, tag: str | None = None, text: str | None = None) -> list[Any]:
    """WHERE clauses of the dashboard's tag filter and free-text search.

    ``tag`` is the exact experiment tag; ``text`` matches (case-insensitively) the job id,
    node id, pipeline id, model family, experiment tag, description or the pipeline's name.
    """
    clauses: list[Any] = []
    if tag is not None:
        clauses.append(TrainingJob.config["experiment_tag"].as_string() == tag)
    if text:
        pattern = f"%{text.lower()}%"
        named = select(Pipeline.pipeline_id).where(func.lower(func.coalesce(Pipeline.name, "")).like(pattern))
        clauses.append(
            or_(
                func.lower(TrainingJob.id).like(pattern),
                func.lower(TrainingJob.node_id).like(pattern),
                func.lower(TrainingJob.pipeline_id).like(pattern),
                func.lower(TrainingJob.model_type).like(pattern),
                func.lower(func.coalesce(TrainingJob.config["experiment_tag"].as_string(), "")).like(pattern),
                func.lower(func.coalesce(TrainingJob.config["description"].as_string(), "")).like(pattern),
                TrainingJob.pipeline_id.in_(named),
            )
        )
    return clauses


async def active_jobs_by_worker(session: AsyncSession) -> list[tuple[str, str | None, str, dt.datetime | None]]:
    """``(job id, worker, status, last heartbeat)`` of every running or cancelling job (for ``GET /workers``)."""
    stmt = (
        select(TrainingJob.id, TrainingJob.worker, TrainingJob.status, TrainingJob.heartbeat_at)
        .where(TrainingJob.status.in_([JobStatus.RUNNING.value, JobStatus.CANCELLING.value]))
        .order_by(TrainingJob.created_at)
    )
    return [(row[0], row[1], row[2], row[3]) for row in (await session.execute(stmt)).all()]
