"""Model aliases (e.g. ``active``) and their append-only history: promotion and rollback."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.dialect import upsert
from store.errors import InvalidInput, NotFound
from store.models import ModelAlias, ModelAliasHistory, ModelVersion, Pipeline
from store.pipelines import get_pipeline
from store.reader import Reader
from store.types import utcnow

ACTIVE_ALIAS = "active"
_ALIAS_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


async def set_alias(
    session: AsyncSession, pipeline_id: str, node_id: str, alias: str, version: int, by: str | None
) -> ModelAlias:
    """Point ``alias`` at ``version`` and append the move to ``model_alias_history``.

    Not reader-scoped: check the caller may write the pipeline first.

    Raises:
        InvalidInput: a malformed alias name.
        NotFound: the version does not exist.
    """
    if not _ALIAS_RE.match(alias):
        raise InvalidInput("alias", "must be 1-64 characters of a-z 0-9 _ . - starting with a letter or digit")
    exists = await session.scalar(
        select(ModelVersion.id).where(
            ModelVersion.pipeline_id == pipeline_id, ModelVersion.node_id == node_id, ModelVersion.version == version
        )
    )
    if exists is None:
        raise NotFound("model version", f"{pipeline_id}/{node_id}/v{version}")
    key = (ModelAlias.pipeline_id == pipeline_id, ModelAlias.node_id == node_id, ModelAlias.alias == alias)
    previous = await session.scalar(select(ModelAlias.version).where(*key).with_for_update())
    now = utcnow()
    stmt = upsert(session, ModelAlias).values(
        pipeline_id=pipeline_id, node_id=node_id, alias=alias, version=version, updated_at=now, updated_by=by
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[ModelAlias.pipeline_id, ModelAlias.node_id, ModelAlias.alias],
        set_={"version": version, "updated_at": stmt.excluded.updated_at, "updated_by": by},
    )
    await session.execute(stmt)
    session.add(
        ModelAliasHistory(
            pipeline_id=pipeline_id,
            node_id=node_id,
            alias=alias,
            version=version,
            previous_version=previous,
            changed_at=now,
            changed_by=by,
        )
    )
    await session.flush()
    row = (await session.scalars(select(ModelAlias).where(*key).execution_options(populate_existing=True))).one()
    return row


async def get_alias(
    session: AsyncSession, pipeline_id: str, node_id: str, alias: str = ACTIVE_ALIAS, *, reader: Reader
) -> ModelAlias | None:
    """Where ``alias`` points, or ``None`` if it was never set.

    Raises:
        NotFound: the pipeline is not the reader's.
    """
    await get_pipeline(session, pipeline_id, reader=reader)
    stmt = select(ModelAlias).where(
        ModelAlias.pipeline_id == pipeline_id, ModelAlias.node_id == node_id, ModelAlias.alias == alias
    )
    return (await session.scalars(stmt)).one_or_none()


async def aliases_by_version(
    session: AsyncSession, pipeline_id: str, node_id: str, *, reader: Reader
) -> dict[int, list[str]]:
    """The alias names pointing at each version of a node; empty when the pipeline is not the reader's."""
    stmt = (
        select(ModelAlias)
        .join(Pipeline, Pipeline.pipeline_id == ModelAlias.pipeline_id)
        .where(ModelAlias.pipeline_id == pipeline_id, ModelAlias.node_id == node_id, reader.owns(Pipeline.owner_id))
    )
    out: dict[int, list[str]] = {}
    for alias in (await session.scalars(stmt)).all():
        out.setdefault(alias.version, []).append(alias.alias)
    return out


async def alias_history(
    session: AsyncSession,
    pipeline_id: str,
    node_id: str,
    alias: str | None = None,
    *,
    reader: Reader,
    limit: int = 100,
) -> list[ModelAliasHistory]:
    """Alias moves of a node (of one alias when given), newest first.

    Raises:
        NotFound: the pipeline is not the reader's.
    """
    await get_pipeline(session, pipeline_id, reader=reader)
    stmt = select(ModelAliasHistory).where(
        ModelAliasHistory.pipeline_id == pipeline_id, ModelAliasHistory.node_id == node_id
    )
    if alias is not None:
        stmt = stmt.where(ModelAliasHistory.alias == alias)
    stmt = stmt.order_by(ModelAliasHistory.id.desc()).limit(limit)
    return list((await session.scalars(stmt)).all())


async def active_version(session: AsyncSession, pipeline_id: str, node_id: str) -> int | None:
    """The node's active version: where ``active`` points, else (until a first promotion)
    the node's first version that is not deleted; None while it has none.

    The default is resolved here, when read, rather than by writing an alias when the
    first version is created: workers record versions but never write aliases (see
    docs/security.md). Not reader-scoped: check the caller may read the pipeline first.
    """
    pointed = await session.scalar(
        select(ModelAlias.version).where(
            ModelAlias.pipeline_id == pipeline_id, ModelAlias.node_id == node_id, ModelAlias.alias == ACTIVE_ALIAS
        )
    )
    if pointed is not None:
        return int(pointed)
    first = await session.scalar(
        select(func.min(ModelVersion.version)).where(
            ModelVersion.pipeline_id == pipeline_id,
            ModelVersion.node_id == node_id,
            ModelVersion.deleted_at.is_(None),  # a deleted version's tombstone is never active
        )
    )
    return int(first) if first is not None else None
