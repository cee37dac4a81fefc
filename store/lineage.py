"""Which pipeline replaced which: the trail a canvas leaves when its data path changes.

Deleting a training node (or any edit of the data path) gives the graph a new pipeline id;
the canvas tells the save which id it had before. Recording that link lets the new pipeline
list the jobs of nodes it no longer has (the orphan jobs), in any browser.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.dialect import upsert
from store.models import Pipeline, PipelineLineage
from store.types import utcnow

MAX_ANCESTORS = 200
"""How far back a lineage is followed; older pipelines are left out (a canvas edited for months)."""


async def record_replacement(session: AsyncSession, pipeline: Pipeline, previous_pipeline_id: str) -> bool:
    """Record that ``pipeline`` replaced ``previous_pipeline_id``, if that is a pipeline of the same owner.

    A previous id that does not exist, is the same pipeline, or belongs to someone else is
    ignored (it must never let one user's pipeline reach another's jobs). Idempotent.

    Returns:
        Whether the link exists now.
    """
    if previous_pipeline_id == pipeline.pipeline_id:
        return False
    owner = await session.scalar(select(Pipeline.owner_id).where(Pipeline.pipeline_id == previous_pipeline_id))
    if owner is None or owner != pipeline.owner_id:
        return False
    stmt = upsert(session, PipelineLineage).values(
        pipeline_id=pipeline.pipeline_id, previous_pipeline_id=previous_pipeline_id, created_at=utcnow()
    )
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["pipeline_id", "previous_pipeline_id"]))
    return True


async def ancestors(session: AsyncSession, pipeline_id: str, *, limit: int = MAX_ANCESTORS) -> list[str]:
    """The pipelines ``pipeline_id`` replaced, directly or through others, nearest first.

    Cycles (a canvas that went back to an earlier graph) are followed once.
    """
    seen = {pipeline_id}
    found: list[str] = []
    frontier = [pipeline_id]
    while frontier and len(found) < limit:
        stmt = (
            select(PipelineLineage.previous_pipeline_id)
            .where(PipelineLineage.pipeline_id.in_(frontier))
            .order_by(PipelineLineage.created_at.desc(), PipelineLineage.previous_pipeline_id)
        )
        frontier = []
        for previous in (await session.scalars(stmt)).all():
            if previous not in seen:
                seen.add(previous)
                found.append(previous)
                frontier.append(previous)
    return found[:limit]
