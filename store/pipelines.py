"""Pipelines: saved graphs, keyed by dataset and data-path hash."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.datasets import get_dataset_head
from store.dialect import upsert
from store.errors import InvalidInput
from store.graph_hash import graph_hash, pipeline_id_for
from store.models import Pipeline
from store.reader import Reader, get_owned
from store.types import utcnow

MAX_NAME = 200


def clean_name(name: str) -> str:
    """A pipeline name without surrounding blanks.

    Raises:
        InvalidInput: empty, too long or with control characters; names ``name``.
    """
    text = name.strip()
    if not text:
        raise InvalidInput("name", "must not be blank")
    if len(text) > MAX_NAME:
        raise InvalidInput("name", f"must be at most {MAX_NAME} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InvalidInput("name", "must not contain control characters")
    return text


async def upsert_pipeline(
    session: AsyncSession,
    *,
    dataset_source_id: str,
    graph: Mapping[str, Any],
    reader: Reader,
    name: str | None = None,
    digest: str | None = None,
) -> Pipeline:
    """Save ``graph`` under its derived pipeline id, creating or updating the row.

    The id depends only on the dataset and the data path (see :mod:`store.graph_hash`), so
    saving a moved node or new hyperparameters updates the stored graph in place. The
    owner is the dataset's owner; a reader must be able to see the dataset. ``name``
    (when given) becomes the pipeline's name; without it a stored name is kept.
    ``digest`` is ``graph_hash(graph)`` when the caller computed it already (off the event
    loop, before its write transaction: hashing a large graph must not hold the write lock).

    Raises:
        NotFound: the dataset is missing or not the reader's.
        InvalidInput: the graph is malformed; the error names the field.
    """
    dataset = await get_dataset_head(session, dataset_source_id, reader=reader)
    name = clean_name(name) if name is not None else None
    digest = digest or graph_hash(graph)
    pipeline_id = pipeline_id_for(dataset.id, digest)
    now = utcnow()
    # One statement, so two first saves of the same graph cannot both insert.
    stmt = upsert(session, Pipeline).values(
        pipeline_id=pipeline_id,
        dataset_source_id=dataset.id,
        owner_id=dataset.owner_id,
        graph=dict(graph),
        graph_hash=digest,
        name=name,
        created_at=now,
        updated_at=now,
    )
    changes: dict[str, Any] = {"graph": stmt.excluded.graph, "updated_at": stmt.excluded.updated_at}
    if name is not None:
        changes["name"] = stmt.excluded.name
    stmt = stmt.on_conflict_do_update(index_elements=[Pipeline.pipeline_id], set_=changes).returning(Pipeline)
    row: Pipeline = (await session.scalars(stmt, execution_options={"populate_existing": True})).one()
    return row


async def get_pipeline(session: AsyncSession, pipeline_id: str, *, reader: Reader) -> Pipeline:
    """The pipeline ``pipeline_id`` if ``reader`` may see it.

    Raises:
        NotFound: missing, or owned by someone else.
    """
    key = Pipeline.pipeline_id == pipeline_id
    return await get_owned(session, Pipeline, key, Pipeline.owner_id, reader=reader, kind="pipeline", ref=pipeline_id)


async def pipeline_exists(session: AsyncSession, pipeline_id: str) -> bool:
    """Whether a pipeline has this id, whoever owns it (an id derives from the data path, not the owner)."""
    return await session.get(Pipeline, pipeline_id) is not None


async def pipeline_name(session: AsyncSession, pipeline_id: str, *, reader: Reader) -> str | None:
    """The human name of the reader's pipeline; None when it has none, is missing or is another's."""
    row = await session.get(Pipeline, pipeline_id)
    return row.name if row is not None and reader.may_see(row.owner_id) else None


async def list_pipelines(session: AsyncSession, *, reader: Reader, limit: int = 100) -> list[Pipeline]:
    """The reader's pipelines (all for an admin), most recently saved first."""
    stmt = (
        select(Pipeline)
        .where(reader.owns(Pipeline.owner_id))
        .order_by(Pipeline.updated_at.desc(), Pipeline.pipeline_id.desc())
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def rename_pipeline(session: AsyncSession, pipeline_id: str, name: str, *, reader: Reader) -> Pipeline:
    """Give the pipeline a human name (its id stays: the id names the data path).

    Raises:
        NotFound: missing, or owned by someone else.
        InvalidInput: a blank, too long or control-character name.
    """
    row = await get_pipeline(session, pipeline_id, reader=reader)
    row.name = clean_name(name)
    row.updated_at = utcnow()
    await session.flush()
    return row


MAX_COPIES = 1000


def _renamed_graph(graph: Mapping[str, Any], suffix: str) -> dict[str, Any]:
    """The graph with ``suffix`` appended to every node id (and the edges following them)."""
    nodes = [dict(n, id=f"{n['id']}{suffix}") for n in graph.get("nodes", [])]
    edges = [
        dict(e, id=f"{e.get('id', 'e')}{suffix}", source=f"{e['source']}{suffix}", target=f"{e['target']}{suffix}")
        for e in graph.get("edges", [])
    ]
    return {**graph, "nodes": nodes, "edges": edges}


async def duplicate_pipeline(
    session: AsyncSession, pipeline_id: str, *, reader: Reader, name: str | None = None
) -> Pipeline:
    """A copy of the pipeline under a new id, with no jobs or versions of its own.

    A pipeline's id is derived from its data path, so an identical graph would get the
    same id: the copy's node ids get a ``-copyN`` suffix (labels, layout and configs are
    kept; people see the labels, the ids only in tooltips).

    Raises:
        NotFound: missing, or owned by someone else.
    """
    source = await get_pipeline(session, pipeline_id, reader=reader)
    base_name = source.name or source.pipeline_id
    for n in range(1, MAX_COPIES + 1):
        graph = _renamed_graph(source.graph, f"-copy{n}")
        candidate = pipeline_id_for(source.dataset_source_id, graph_hash(graph))
        if await session.get(Pipeline, candidate) is None:
            copy_name = name if name is not None else f"{base_name} (copy{'' if n == 1 else f' {n}'})"[:MAX_NAME]
            return await upsert_pipeline(
                session, dataset_source_id=source.dataset_source_id, graph=graph, reader=reader, name=copy_name
            )
    raise InvalidInput("pipeline_id", f"has {MAX_COPIES} copies already")
