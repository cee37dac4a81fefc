"""The pipeline browser's listing: owner-scoped, newest change first, keyset-paged."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from store.cursor import after, decode_cursor, encode_cursor
from store.errors import InvalidInput
from store.models import DatasetSource, Pipeline, PipelineLineage, TrainingJob
from store.reader import Reader

MAX_PAGE = 200


@dataclasses.dataclass(frozen=True)
class PipelineSummary:
    """One row of the pipeline browser."""

    pipeline: Pipeline
    dataset_name: str | None
    node_count: int
    last_job_status: str | None
    last_job_at: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class PipelinePage:
    items: list[PipelineSummary]
    next_cursor: str | None


def _node_count(graph: object) -> int:
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    return len(nodes) if isinstance(nodes, list) else 0


async def list_pipeline_summaries(
    session: AsyncSession,
    *,
    reader: Reader,
    limit: int = 50,
    cursor: str | None = None,
    search: str | None = None,
    include_replaced: bool = False,
) -> PipelinePage:
    """The reader's pipelines (all for an admin), most recently changed first.

    ``search`` matches the name, the id or the dataset's name (case-insensitive). Each row
    carries its dataset's name, its node count and the status of its newest job.

    A canvas edit that changes the data path saves the graph under a new id and records
    the old one in ``pipeline_lineage``. Such a replaced pipeline is left out when a later
    save replaced it and it has no job of its own (an intermediate draft), unless
    ``include_replaced``; one with jobs stays, since its history matters.

    Raises:
        InvalidInput: a bad ``limit`` or ``cursor``; the error names it.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE}")
    clauses = [reader.owns(Pipeline.owner_id)]
    if not include_replaced:
        successor = aliased(Pipeline)
        replaced = (
            select(PipelineLineage.previous_pipeline_id)
            .join(successor, successor.pipeline_id == PipelineLineage.pipeline_id)
            .where(
                PipelineLineage.previous_pipeline_id == Pipeline.pipeline_id,
                successor.updated_at >= Pipeline.updated_at,
            )
            .exists()
        )
        has_jobs = select(TrainingJob.id).where(TrainingJob.pipeline_id == Pipeline.pipeline_id).exists()
        clauses.append(or_(~replaced, has_jobs))
    if search:
        pattern = f"%{search.lower()}%"
        clauses.append(
            or_(
                func.lower(func.coalesce(Pipeline.name, "")).like(pattern),
                func.lower(Pipeline.pipeline_id).like(pattern),
                func.lower(DatasetSource.name).like(pattern),
            )
        )
    if cursor:
        clauses.append(after(decode_cursor(cursor), Pipeline.updated_at, Pipeline.pipeline_id))
    stmt = (
        select(Pipeline, DatasetSource.name)
        .join(DatasetSource, DatasetSource.id == Pipeline.dataset_source_id, isouter=True)
        .where(*clauses)
        .order_by(Pipeline.updated_at.desc(), Pipeline.pipeline_id.desc())
        .limit(limit + 1)
    )
    rows = list((await session.execute(stmt)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    latest = await _latest_jobs(session, [p.pipeline_id for p, _ in rows], reader)
    items = [
        PipelineSummary(
            pipeline=p,
            dataset_name=dataset_name,
            node_count=_node_count(p.graph),
            last_job_status=latest.get(p.pipeline_id, (None, None))[0],
            last_job_at=latest.get(p.pipeline_id, (None, None))[1],
        )
        for p, dataset_name in rows
    ]
    next_cursor = encode_cursor(rows[-1][0].updated_at, rows[-1][0].pipeline_id) if more and rows else None
    return PipelinePage(items=items, next_cursor=next_cursor)


async def _latest_jobs(
    session: AsyncSession, pipeline_ids: list[str], reader: Reader
) -> dict[str, tuple[str, dt.datetime]]:
    """The status and creation time of the newest job of each pipeline the reader may see."""
    if not pipeline_ids:
        return {}
    rank = (
        func.row_number()
        .over(partition_by=TrainingJob.pipeline_id, order_by=(TrainingJob.created_at.desc(), TrainingJob.id.desc()))
        .label("rank")
    )
    ranked = (
        select(TrainingJob.pipeline_id, TrainingJob.status, TrainingJob.created_at, rank)
        .where(TrainingJob.pipeline_id.in_(pipeline_ids), reader.owns(TrainingJob.user_id))
        .subquery()
    )
    stmt = select(ranked.c.pipeline_id, ranked.c.status, ranked.c.created_at).where(ranked.c.rank == 1)
    return {pid: (status, at) for pid, status, at in (await session.execute(stmt)).all()}


@dataclasses.dataclass(frozen=True)
class PipelineNames:
    """What people call a pipeline and its nodes."""

    name: str | None
    node_labels: dict[str, str]


async def pipeline_names(session: AsyncSession, pipeline_ids: list[str], *, reader: Reader) -> dict[str, PipelineNames]:
    """The name and node labels of each pipeline the reader may see, by pipeline id."""
    if not pipeline_ids:
        return {}
    stmt = select(Pipeline.pipeline_id, Pipeline.name, Pipeline.graph).where(
        Pipeline.pipeline_id.in_(sorted(set(pipeline_ids))), reader.owns(Pipeline.owner_id)
    )
    return {
        pid: PipelineNames(name=name, node_labels=node_labels(graph))
        for pid, name, graph in (await session.execute(stmt)).all()
    }


def node_labels(graph: Any) -> dict[str, str]:
    """The label of each node of a stored graph that has one, by node id."""
    labels: dict[str, str] = {}
    nodes = graph.get("nodes") if isinstance(graph, dict) else None
    for node in nodes if isinstance(nodes, list) else []:
        data = node.get("data") if isinstance(node, dict) else None
        label = data.get("label") if isinstance(data, dict) else None
        if isinstance(label, str) and label and isinstance(node.get("id"), str):
            labels[node["id"]] = label
    return labels
