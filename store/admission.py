"""Fair share of workers in the database: admitting waiting jobs in turns, claiming under the cap.

A queued job is either *waiting* (``admitted_at IS NULL``: no message in the broker) or
*admitted* (its message was sent). :func:`admit_next` admits waiting jobs while their user
holds fewer than ``jobs.max_running_per_user`` slots, in the turns ``store.turns`` decides;
:func:`claim` is the hard rule a worker applies before it starts a job: it refuses while the
user already runs ``cap`` jobs, and sends the job back to waiting. Both decide inside one
write transaction (``BEGIN IMMEDIATE`` on SQLite; a lock on PostgreSQL), so any number of
web processes and workers agree, and neither ever creates or deletes a job.

Every function runs in the caller's write transaction and never commits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.jobs import TransitionResult, transition
from store.models import TrainingJob, User
from store.states import JobStatus
from store.submission_writes import connection_of
from store.turns import Waiting, has_room, next_turns
from store.types import utcnow

_DISPATCH_LOCK = 0x6D6C7701
"""PostgreSQL advisory lock serializing :func:`admit_next` across processes (SQLite's write lock does it there)."""

_RUNNING = (JobStatus.RUNNING.value, JobStatus.CANCELLING.value)


@dataclasses.dataclass(frozen=True)
class Claim:
    """The answer of :func:`claim`: the transition when it won, or why not."""

    result: TransitionResult | None
    deferred: bool = False
    """True when the user was at the cap: the job is waiting again (it was not touched otherwise)."""


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _holding() -> Any:
    """Rows that hold one of their user's slots."""
    admitted = (TrainingJob.status == JobStatus.QUEUED.value) & TrainingJob.admitted_at.is_not(None)
    return or_(TrainingJob.status.in_(_RUNNING), admitted)


async def running_count(session: AsyncSession, user_id: str) -> int:
    """How many of ``user_id``'s jobs run now (running or cancelling)."""
    stmt = select(func.count()).where(TrainingJob.user_id == user_id, TrainingJob.status.in_(_RUNNING))
    return int((await session.execute(stmt)).scalar_one())


async def claim(
    session: AsyncSession,
    job: TrainingJob,
    *,
    cap: int,
    changes: Mapping[str, Any],
    payload: Mapping[str, Any],
) -> Claim:
    """Move ``job`` from ``queued`` (in its attempt) to ``running``, unless its user is at ``cap``.

    At the cap, the job goes back to waiting (``admitted_at`` cleared, no event: it is still
    ``queued``) for :func:`admit_next` to admit it in its turn. Concurrent claims of one user
    are serialized (SQLite's write lock; a row lock on the user on PostgreSQL), so the number
    of the user's running jobs never exceeds the cap.
    """
    if cap:
        if _postgres(session):
            await session.execute(select(User.id).where(User.id == job.user_id).with_for_update())
        current = (await session.execute(
            select(TrainingJob.status, TrainingJob.attempt).where(TrainingJob.id == job.id)
        )).one_or_none()
        if current is None or tuple(current) != (JobStatus.QUEUED.value, job.attempt):
            return Claim(None)  # another delivery took it, or it moved on: not a matter of turns
        if not has_room(await running_count(session, job.user_id), cap):
            await release(session, job.id, attempt=job.attempt)
            return Claim(None, deferred=True)
    values = {"admitted_at": job.admitted_at or utcnow(), **changes}
    done = await transition(
        session, job.id, JobStatus.RUNNING, expected=JobStatus.QUEUED, expected_attempt=job.attempt,
        changes=values, payload=payload,
    )
    return Claim(done)


async def release(session: AsyncSession, job_id: str, *, attempt: int) -> bool:
    """Send a job still ``queued`` in ``attempt`` back to waiting (its message was refused or not sent)."""
    stmt = (
        update(TrainingJob)
        .where(TrainingJob.id == job_id, TrainingJob.status == JobStatus.QUEUED.value, TrainingJob.attempt == attempt)
        .values(admitted_at=None)
        .returning(TrainingJob.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).first() is not None


def _waiting() -> Any:
    """Rows of queued jobs waiting for their turn (no message sent)."""
    return (TrainingJob.status == JobStatus.QUEUED.value) & TrainingJob.admitted_at.is_(None)


async def any_waiting(session: AsyncSession) -> bool:
    """Whether any queued job waits for its turn (a read; :func:`admit_next` decides under the lock)."""
    return (await session.execute(select(TrainingJob.id).where(_waiting()).limit(1))).first() is not None


_WAITING_USERS = text(
    # The users with waiting jobs, one index seek each (a loose index scan on
    # (status, admitted_at, user_id): DISTINCT would read every waiting job), and the slots
    # each holds, counted as two index ranges of (user_id, status, admitted_at). Every
    # dispatch asks this, each submission's included; under load it usually finds every
    # waiting job's user at the cap.
    "WITH RECURSIVE waiting(user_id) AS ("
    " SELECT (SELECT min(user_id) FROM training_jobs WHERE status = 'queued' AND admitted_at IS NULL)"
    " UNION ALL"
    " SELECT (SELECT min(j.user_id) FROM training_jobs AS j"
    "  WHERE j.status = 'queued' AND j.admitted_at IS NULL AND j.user_id > waiting.user_id)"
    " FROM waiting WHERE waiting.user_id IS NOT NULL)"
    " SELECT waiting.user_id,"
    " (SELECT count(*) FROM training_jobs AS h"
    "  WHERE h.user_id = waiting.user_id AND h.status IN ('running', 'cancelling'))"
    " + (SELECT count(*) FROM training_jobs AS h"
    "  WHERE h.user_id = waiting.user_id AND h.status = 'queued' AND h.admitted_at IS NOT NULL)"
    " FROM waiting WHERE waiting.user_id IS NOT NULL"
)
"""``(user_id, holding)`` of every user with a waiting job: :func:`_waiting` and :func:`_holding` as one statement."""


def _rooms(users: list[str], holding: Mapping[str, int], cap: int, limit: int | None) -> dict[str, int | None]:
    """How many more jobs each user with waiting jobs may be admitted now (``None``: any number)."""
    rooms: dict[str, int | None] = {}
    for user in users:
        room = None if cap == 0 else cap - holding.get(user, 0)
        if limit is not None:
            room = limit if room is None else min(room, limit)
        if room is None or room > 0:
            rooms[user] = room
    return rooms


async def _heads(session: AsyncSession, rooms: Mapping[str, int | None]) -> list[Waiting]:
    """The oldest waiting jobs of each user in ``rooms``, as many as its room, oldest first overall.

    Only these can be admitted now, so a user with thousands of waiting jobs costs no more
    than one with a few: the turns (:func:`~store.turns.next_turns`) come out the same as
    from every waiting job, since each user's first job keeps its place in the order.
    """
    rank = func.row_number().over(
        partition_by=TrainingJob.user_id, order_by=(TrainingJob.created_at, TrainingJob.id)
    ).label("rank")
    ranked = (
        select(TrainingJob.id, TrainingJob.user_id, TrainingJob.created_at, rank)
        .where(_waiting(), TrainingJob.user_id.in_(sorted(rooms)))
        .subquery()
    )
    stmt = select(ranked.c.id, ranked.c.user_id, ranked.c.created_at, ranked.c.rank)
    bounded = [room for room in rooms.values() if room is not None]
    if len(bounded) == len(rooms):
        stmt = stmt.where(ranked.c.rank <= max(bounded))
    rows = []
    for row in (await session.execute(stmt)).all():
        room = rooms[row.user_id]
        if room is None or row.rank <= room:
            rows.append(row)
    rows.sort(key=lambda row: (row.created_at, row.id))
    return [Waiting(row.id, row.user_id) for row in rows]


async def admit_next(session: AsyncSession, cap: int, *, limit: int | None = None) -> list[TrainingJob]:
    """Admit the waiting jobs whose turn it is; returns them in turn order (send their messages after commit).

    Args:
        cap: ``jobs.max_running_per_user`` (0 = no limit: every waiting job is admitted).
        limit: At most this many jobs.
    """
    if _postgres(session):
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DISPATCH_LOCK})
    # One statement: every dispatch (each submission's included) asks it, and under load it
    # usually finds every waiting job's user at the cap.
    found = (await (await connection_of(session)).execute(_WAITING_USERS)).tuples().all()
    if not found:
        return []
    users = sorted(user for user, _ in found)
    holding = {user: int(n) for user, n in found if n}
    rooms = _rooms(users, holding, cap, limit)
    if not rooms:
        return []  # every waiting job's user is at the cap: the common case under load
    waiting = await _heads(session, rooms)
    last_served = dict(
        (await session.execute(
            select(TrainingJob.user_id, func.max(TrainingJob.admitted_at))
            .where(TrainingJob.user_id.in_(sorted(rooms)))
            .group_by(TrainingJob.user_id)
        )).tuples().all()
    )
    chosen = next_turns(waiting, holding, last_served, cap, limit)
    if not chosen:
        return []
    stmt = (
        update(TrainingJob)
        .where(
            TrainingJob.id.in_(chosen),
            TrainingJob.status == JobStatus.QUEUED.value,
            TrainingJob.admitted_at.is_(None),
        )
        .values(admitted_at=utcnow())
        .returning(TrainingJob)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    admitted = {job.id: job for job in (await session.scalars(stmt)).all()}
    return [admitted[job_id] for job_id in chosen if job_id in admitted]
