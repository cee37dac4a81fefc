"""Dataset sources: the uploaded files pipelines start from."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.cursor import after, decode_cursor, encode_cursor
from store.errors import InUse, InvalidInput, NotFound
from store.models import DatasetSource, Pipeline, TrainingJob, User
from store.reader import Reader, get_owned
from store.states import ACTIVE
from store.types import new_id, utcnow


@dataclasses.dataclass(frozen=True)
class DatasetPage:
    """One page of datasets, newest first; ``next_cursor`` is ``None`` on the last page."""

    items: list[DatasetSource]
    next_cursor: str | None


async def create_dataset(
    session: AsyncSession,
    *,
    owner_id: str,
    name: str,
    storage_uri: str,
    format: str,
    n_rows: int,
    columns: Sequence[Any],
    sha256: str,
    dataset_id: str | None = None,
    storage_format: str | None = None,
    storage_sha256: str | None = None,
    stored_bytes: int | None = None,
    preview: Sequence[Any] | None = None,
) -> DatasetSource:
    """Record an uploaded dataset (the file is already stored at ``storage_uri``).

    ``format`` and ``sha256`` describe the uploaded file; ``storage_format``,
    ``storage_sha256`` and ``stored_bytes`` the stored one when it differs (Parquet).

    Raises:
        InvalidInput: a bad value; the error names the field.
    """
    if not name or not name.strip():
        raise InvalidInput("name", "must be a non-empty string")
    if n_rows < 0:
        raise InvalidInput("n_rows", "must be 0 or greater")
    if len(sha256) != 64:
        raise InvalidInput("sha256", "must be a 64-character hex digest")
    row = DatasetSource(
        id=dataset_id or new_id(),
        owner_id=owner_id,
        name=name.strip(),
        storage_uri=storage_uri,
        format=format,
        n_rows=n_rows,
        columns=list(columns),
        sha256=sha256,
        created_at=utcnow(),
        storage_format=storage_format,
        storage_sha256=storage_sha256,
        stored_bytes=stored_bytes,
        preview=None if preview is None else list(preview),
    )
    session.add(row)
    await session.flush()
    return row


async def get_dataset(session: AsyncSession, dataset_id: str, *, reader: Reader) -> DatasetSource:
    """The dataset ``dataset_id`` if ``reader`` may see it.

    Raises:
        NotFound: missing, or owned by someone else.
    """
    key, owner = DatasetSource.id == dataset_id, DatasetSource.owner_id
    return await get_owned(session, DatasetSource, key, owner, reader=reader, kind="dataset", ref=dataset_id)


@dataclasses.dataclass(frozen=True)
class DatasetHead:
    """What a submission needs of a dataset: who owns it and its columns (no preview, no file)."""

    id: str
    owner_id: str
    columns: list[Any]


async def get_dataset_head(session: AsyncSession, dataset_id: str, *, reader: Reader) -> DatasetHead:
    """:func:`get_dataset` reduced to :class:`DatasetHead`: three columns, no ORM object to build.

    Raises:
        NotFound: missing, or owned by someone else.
    """
    stmt = select(DatasetSource.id, DatasetSource.owner_id, DatasetSource.columns).where(
        DatasetSource.id == dataset_id, reader.owns(DatasetSource.owner_id)
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise NotFound("dataset", dataset_id)
    return DatasetHead(id=row.id, owner_id=row.owner_id, columns=list(row.columns))


async def list_datasets(session: AsyncSession, *, reader: Reader, limit: int = 100) -> list[DatasetSource]:
    """The reader's datasets (every dataset for an admin), newest first."""
    return (await page_datasets(session, reader=reader, limit=limit)).items


async def page_datasets(
    session: AsyncSession, *, reader: Reader, limit: int = 100, cursor: str | None = None
) -> DatasetPage:
    """One page of the reader's datasets, newest first, after ``cursor`` (from the previous page).

    Raises:
        InvalidInput: a bad ``limit`` or ``cursor``; names it.
    """
    if limit < 1:
        raise InvalidInput("limit", "must be at least 1")
    stmt = select(DatasetSource).where(reader.owns(DatasetSource.owner_id))
    if cursor:
        stmt = stmt.where(after(decode_cursor(cursor), DatasetSource.created_at, DatasetSource.id))
    stmt = stmt.order_by(DatasetSource.created_at.desc(), DatasetSource.id.desc()).limit(limit + 1)
    rows = list((await session.scalars(stmt)).all())
    page, more = rows[:limit], len(rows) > limit
    return DatasetPage(page, encode_cursor(page[-1].created_at, page[-1].id) if more else None)


async def stored_bytes_of(session: AsyncSession, owner_id: str, *, lock: bool = False) -> int:
    """Bytes of stored dataset files owned by ``owner_id`` (rows from before migration 0006 count 0).

    ``lock`` serializes concurrent uploads of one user on PostgreSQL (SQLite write
    transactions are serial already), so two of them cannot both pass the quota.
    """
    if lock and session.bind.dialect.name == "postgresql":
        await session.execute(select(User.id).where(User.id == owner_id).with_for_update())
    stmt = select(func.coalesce(func.sum(DatasetSource.stored_bytes), 0)).where(DatasetSource.owner_id == owner_id)
    return int((await session.execute(stmt)).scalar_one() or 0)


async def delete_dataset(session: AsyncSession, dataset_id: str, *, reader: Reader, listed: int = 50) -> DatasetSource:
    """Delete the dataset row if nothing uses it; the caller removes its file after commit.

    Raises:
        NotFound: missing, or not the reader's.
        InUse: a job is queued or running on it (``dataset_has_active_jobs``), or pipelines
            still start from it (``dataset_in_use``; ``details.pipeline_ids`` lists them).
    """
    stmt = select(DatasetSource).where(DatasetSource.id == dataset_id, reader.owns(DatasetSource.owner_id))
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()  # a concurrent pipeline insert waits on its foreign key
    row = (await session.scalars(stmt)).one_or_none()
    if row is None:
        raise NotFound("dataset", dataset_id)
    active = list((await session.scalars(
        select(TrainingJob.id)
        .where(TrainingJob.dataset_source_id == row.id, TrainingJob.status.in_([s.value for s in ACTIVE]))
        .order_by(TrainingJob.created_at).limit(listed)
    )).all())
    if active:
        raise InUse(
            f"dataset {row.id} has {len(active)} queued or running job(s); cancel them or wait for them to finish",
            code="dataset_has_active_jobs",
            details={"job_ids": active},
        )
    pipelines = list((await session.scalars(
        select(Pipeline.pipeline_id).where(Pipeline.dataset_source_id == row.id)
        .order_by(Pipeline.created_at).limit(listed)
    )).all())
    if pipelines:
        raise InUse(
            f"dataset {row.id} is used by {len(pipelines)} pipeline(s); delete them first "
            f"(DELETE /pipelines/{{pipeline_id}})",
            code="dataset_in_use",
            details={"pipeline_ids": pipelines},
        )
    await session.execute(delete(DatasetSource).where(DatasetSource.id == row.id))
    return row
