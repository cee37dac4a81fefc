"""Pipelines: saved graphs, keyed by dataset and data-path hash."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.datasets import get_dataset
from store.dialect import upsert
from store.errors import NotFound
from store.graph_hash import graph_hash, pipeline_id_for
from store.models import Pipeline
from store.reader import Reader
from store.types import utcnow


async def upsert_pipeline(
    session: AsyncSession, *, dataset_source_id: str, graph: Mapping[str, Any], reader: Reader
) -> Pipeline:
    """Save ``graph`` under its derived pipeline id, creating or updating the row.

    The id depends only on the dataset and the data path (see :mod:`store.graph_hash`), so
    saving a moved node or new hyperparameters updates the stored graph in place. The
    owner is the dataset's owner; a reader must be able to see the dataset.

    Raises:
        NotFound: the dataset is missing or not the reader's.
        InvalidInput: the graph is malformed; the error names the field.
    """
    dataset = await get_dataset(session, dataset_source_id, reader=reader)
    digest = graph_hash(graph)
    pipeline_id = pipeline_id_for(dataset.id, digest)
    now = utcnow()
    # One statement, so two first saves of the same graph cannot both insert.
    stmt = upsert(session, Pipeline).values(
        pipeline_id=pipeline_id,
        dataset_source_id=dataset.id,
        owner_id=dataset.owner_id,
        graph=dict(graph),
        graph_hash=digest,
        created_at=now,
        updated_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[Pipeline.pipeline_id],
        set_={"graph": stmt.excluded.graph, "updated_at": stmt.excluded.updated_at},
    )
    await session.execute(stmt)
    row = await session.get(Pipeline, pipeline_id, populate_existing=True)
    assert row is not None
    return row


async def get_pipeline(session: AsyncSession, pipeline_id: str, *, reader: Reader) -> Pipeline:
    """The pipeline ``pipeline_id`` if ``reader`` may see it.

    Raises:
        NotFound: missing, or owned by someone else.
    """
    stmt = select(Pipeline).where(Pipeline.pipeline_id == pipeline_id, reader.owns(Pipeline.owner_id))
    row = (await session.scalars(stmt)).one_or_none()
    if row is None:
        raise NotFound("pipeline", pipeline_id)
    return row


async def list_pipelines(session: AsyncSession, *, reader: Reader, limit: int = 100) -> list[Pipeline]:
    """The reader's pipelines (all for an admin), most recently saved first."""
    stmt = (
        select(Pipeline)
        .where(reader.owns(Pipeline.owner_id))
        .order_by(Pipeline.updated_at.desc(), Pipeline.pipeline_id.desc())
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())
