"""The lean write path of a job submission: statements built once, run with bound values only.

A submission is the busiest write of the API (a client submits in bursts; the benchmark at 50
connections). Building a statement per request, generating its cache key and flushing ORM
objects through the unit of work cost several times the CPU that SQLite spends on the rows,
and all of it runs on the event loop while the write lock is held. The statements here are
SQLAlchemy Core, built at import; each runs on the session's connection with a dict of values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, Table, TextClause, bindparam, func, insert, literal_column, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.datasets import DatasetHead
from store.errors import NotFound
from store.graph_hash import pipeline_id_for
from store.models import Pipeline, TrainingJob, TrainingJobEvent
from store.states import ACTIVE
from store.types import utcnow

_PIPELINES: Table = Pipeline.__table__  # type: ignore[assignment]
_JOBS: Table = TrainingJob.__table__  # type: ignore[assignment]
_EVENTS: Table = TrainingJobEvent.__table__  # type: ignore[assignment]


def _pipeline_upsert() -> TextClause:
    # Text, not the dialects' insert().on_conflict_do_update(): SQLAlchemy cannot cache a
    # statement with ON CONFLICT, and compiling it again cost more than the rest of the write.
    # SQLite (3.24+) and PostgreSQL spell the upsert alike. A stored name is kept.
    names = ("pipeline_id", "dataset_source_id", "owner_id", "graph", "graph_hash", "name", "created_at", "updated_at")
    sql = (
        f"INSERT INTO {_PIPELINES.name} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)}) "
        "ON CONFLICT (pipeline_id) DO UPDATE SET graph = excluded.graph, updated_at = excluded.updated_at"
    )
    return text(sql).bindparams(*(bindparam(n, type_=_PIPELINES.c[n].type) for n in names))


_UPSERT_PIPELINE = _pipeline_upsert()
INSERT_JOB = insert(_JOBS)
INSERT_EVENT = insert(_EVENTS)


async def connection_of(session: AsyncSession) -> Any:
    """The session's connection, with the session's pending ORM changes flushed first.

    Statements run on the connection skip the session's autoflush; rows a caller added
    through the ORM earlier in the transaction (a pipeline a job refers to) must be there.
    """
    if session.new or session.dirty or session.deleted:
        await session.flush()
    return await session.connection()


def in_statuses(column: Any, statuses: frozenset[Any] | tuple[Any, ...]) -> Any:
    """``column IN ('a', 'b')`` written into the statement: status values are constants, so no
    expanding parameter has to be rendered again on every execution."""
    return column.in_([literal_column(f"'{s.value}'") for s in sorted(statuses, key=lambda s: s.value)])


_ACTIVE_OF_USER = (_JOBS.c.user_id == bindparam("user_id"), in_statuses(_JOBS.c.status, ACTIVE))
COUNT_ACTIVE: Select[tuple[int]] = select(func.count()).select_from(_JOBS).where(*_ACTIVE_OF_USER)
_SOME_ACTIVE = select(_JOBS.c.id).where(*_ACTIVE_OF_USER).limit(bindparam("at_most")).subquery()
COUNT_ACTIVE_UP_TO: Select[tuple[int]] = select(func.count()).select_from(_SOME_ACTIVE)


async def count_active_jobs(session: AsyncSession, user_id: str, *, at_most: int | None = None) -> int:
    """How many of ``user_id``'s jobs are queued, running or cancelling (``store.job_queries.count_active``).

    With ``at_most``, counting stops there: a quota check needs no more, and a user with
    thousands of queued jobs then costs no more to check than one with a few.
    """
    conn = await connection_of(session)
    if at_most is None:
        return int((await conn.execute(COUNT_ACTIVE, {"user_id": user_id})).scalar_one())
    return int((await conn.execute(COUNT_ACTIVE_UP_TO, {"user_id": user_id, "at_most": at_most})).scalar_one())


def pipeline_row(dataset: DatasetHead, graph: Mapping[str, Any], digest: str) -> dict[str, Any]:
    """The ``pipelines`` row a submission of ``graph`` (hashed to ``digest``) upserts."""
    now = utcnow()
    return {
        "pipeline_id": pipeline_id_for(dataset.id, digest), "dataset_source_id": dataset.id,
        "owner_id": dataset.owner_id, "graph": graph, "graph_hash": digest, "name": None,
        "created_at": now, "updated_at": now,
    }


async def save_pipeline_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Upsert :func:`pipeline_row` rows of a batch of submissions, each pipeline once.

    Submissions of one graph share its pipeline; the upsert keeps the last row's graph and
    time, so upserting only each pipeline's last row leaves the table exactly as all would.

    Raises:
        sqlalchemy.exc.IntegrityError: a row's dataset no longer exists (the whole statement fails).
    """
    last = {row["pipeline_id"]: row for row in rows}
    await (await connection_of(session)).execute(_UPSERT_PIPELINE, list(last.values()))


async def insert_job_rows(session: AsyncSession, jobs: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
    """Insert many ``training_jobs`` rows, then their first events, as two ``executemany``."""
    conn = await connection_of(session)
    await conn.execute(INSERT_JOB, jobs)
    await conn.execute(INSERT_EVENT, events)


async def save_submitted_pipeline(
    session: AsyncSession, *, dataset: DatasetHead, graph: Mapping[str, Any], digest: str
) -> Pipeline:
    """Save a submitted graph as its pipeline (``store.pipelines.upsert_pipeline`` without a name).

    ``dataset`` was read before the transaction (it may come from a cache: a dataset's id,
    owner and columns never change); if it was deleted since, the foreign key refuses the row.
    Returns the pipeline's id and owner as a detached :class:`Pipeline` (not read back).

    Raises:
        NotFound: the dataset no longer exists.
    """
    values = pipeline_row(dataset, graph, digest)
    pipeline_id = values["pipeline_id"]
    conn = await connection_of(session)
    try:
        await conn.execute(_UPSERT_PIPELINE, values)
    except IntegrityError:
        raise NotFound("dataset", dataset.id) from None
    return Pipeline(pipeline_id=pipeline_id, dataset_source_id=dataset.id, owner_id=dataset.owner_id, graph_hash=digest)


async def insert_job_row(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """Insert one ``training_jobs`` row (``store.jobs.create_job`` builds it)."""
    conn = await connection_of(session)
    await conn.execute(INSERT_JOB, dict(values))


async def insert_event_row(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """Insert one ``training_job_events`` row."""
    conn = await connection_of(session)
    await conn.execute(INSERT_EVENT, dict(values))
