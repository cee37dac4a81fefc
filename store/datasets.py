"""Dataset sources: the uploaded files pipelines start from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import InvalidInput, NotFound
from store.models import DatasetSource
from store.reader import Reader
from store.types import new_id, utcnow


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
) -> DatasetSource:
    """Record an uploaded dataset (the file is already stored at ``storage_uri``).

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
    )
    session.add(row)
    await session.flush()
    return row


async def get_dataset(session: AsyncSession, dataset_id: str, *, reader: Reader) -> DatasetSource:
    """The dataset ``dataset_id`` if ``reader`` may see it.

    Raises:
        NotFound: missing, or owned by someone else.
    """
    stmt = select(DatasetSource).where(DatasetSource.id == dataset_id, reader.owns(DatasetSource.owner_id))
    row = (await session.scalars(stmt)).one_or_none()
    if row is None:
        raise NotFound("dataset", dataset_id)
    return row


async def list_datasets(session: AsyncSession, *, reader: Reader, limit: int = 100) -> list[DatasetSource]:
    """The reader's datasets (every dataset for an admin), newest first."""
    if limit < 1:
        raise InvalidInput("limit", "must be at least 1")
    stmt = (
        select(DatasetSource)
        .where(reader.owns(DatasetSource.owner_id))
        .order_by(DatasetSource.created_at.desc(), DatasetSource.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())
