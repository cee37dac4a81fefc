"""Model aliases (``active``, ``champion``, ...) and their append-only history: set, move, remove, read."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.alias_names import check_alias_name
from store.dialect import upsert
from store.errors import NotFound, VersionDeleted
from store.models import ModelAlias, ModelAliasHistory, ModelVersion, Pipeline
from store.pipelines import get_pipeline
from store.reader import Reader
from store.types import utcnow

ACTIVE_ALIAS = "active"


async def _lock_pipeline(session: AsyncSession, pipeline_id: str) -> None:
    """Serialise alias writes and version deletions of a pipeline (PostgreSQL; SQLite writes are serial).

    So each history row's ``previous_version`` is exact even for two first sets at once,
    and an alias never lands on a version being deleted (:func:`store.deletion.delete_version`
    takes the same lock). The web role may lock ``pipelines`` rows: it may update them.
    """
    await session.execute(select(Pipeline.pipeline_id).where(Pipeline.pipeline_id == pipeline_id).with_for_update())


def _history(
    pid: str, nid: str, alias: str, to: int | None, since: int | None, by: str | None, at: dt.datetime
) -> ModelAliasHistory:
    return ModelAliasHistory(
        pipeline_id=pid, node_id=nid, alias=alias, version=to, previous_version=since, changed_at=at, changed_by=by
    )


@dataclasses.dataclass(frozen=True)
class AliasChange:
    """The outcome of an alias write: the history row that describes the alias now.

    ``changed`` is False when the alias already pointed at the version: nothing was
    written and ``entry`` is the alias's latest history row.
    """

    entry: ModelAliasHistory
    changed: bool


async def set_alias(
    session: AsyncSession, pipeline_id: str, node_id: str, alias: str, version: int, by: str | None
) -> AliasChange:
    """Point ``alias`` at ``version`` and append the change to ``model_alias_history``.

    The one write path of alias sets and moves (with :func:`remove_alias` for removals):
    the alias row and its history row are written in the caller's transaction, so both
    commit or neither does. Setting an alias to where it already points writes nothing,
    so a retried request leaves no second history row. Not reader-scoped: check the
    caller may write the pipeline first.

    Raises:
        InvalidInput: a malformed alias name (field ``alias``).
        NotFound: the version does not exist.
        VersionDeleted: the version was deleted.
    """
    check_alias_name(alias)
    await _lock_pipeline(session, pipeline_id)
    deleted_at = (await session.execute(
        select(ModelVersion.deleted_at).where(
            ModelVersion.pipeline_id == pipeline_id, ModelVersion.node_id == node_id, ModelVersion.version == version
        )
    )).one_or_none()
    if deleted_at is None:
        raise NotFound("model version", f"{pipeline_id}/{node_id}/v{version}")
    if deleted_at[0] is not None:
        raise VersionDeleted(version)
    key = (ModelAlias.pipeline_id == pipeline_id, ModelAlias.node_id == node_id, ModelAlias.alias == alias)
    previous = await session.scalar(select(ModelAlias.version).where(*key).with_for_update())
    if previous == version:
        latest = await _latest_entry(session, pipeline_id, node_id, alias)
        if latest is not None and latest.version == version:
            return AliasChange(latest, changed=False)
    now = utcnow()
    stmt = upsert(session, ModelAlias).values(
        pipeline_id=pipeline_id, node_id=node_id, alias=alias, version=version, updated_at=now, updated_by=by
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[ModelAlias.pipeline_id, ModelAlias.node_id, ModelAlias.alias],
        set_={"version": version, "updated_at": stmt.excluded.updated_at, "updated_by": by},
    )
    await session.execute(stmt)
    entry = _history(pipeline_id, node_id, alias, version, previous, by, now)
    session.add(entry)
    await session.flush()
    return AliasChange(entry, changed=True)


async def _latest_entry(session: AsyncSession, pipeline_id: str, node_id: str, alias: str) -> ModelAliasHistory | None:
    stmt = (
        select(ModelAliasHistory)
        .where(
            ModelAliasHistory.pipeline_id == pipeline_id,
            ModelAliasHistory.node_id == node_id,
            ModelAliasHistory.alias == alias,
        )
        .order_by(ModelAliasHistory.id.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).one_or_none()


async def remove_alias(
    session: AsyncSession, pipeline_id: str, node_id: str, alias: str, by: str | None
) -> AliasChange:
    """Remove ``alias`` from the node and append the removal to ``model_alias_history``.

    Removing ``active`` returns the node to its default (the first live version). Not
    reader-scoped: check the caller may write the pipeline first.

    Returns:
        The change; its history row's ``previous_version`` is where the alias pointed.

    Raises:
        InvalidInput: a malformed alias name (field ``alias``).
        NotFound: the alias is not set on the node.
    """
    check_alias_name(alias)
    await _lock_pipeline(session, pipeline_id)
    key = (ModelAlias.pipeline_id == pipeline_id, ModelAlias.node_id == node_id, ModelAlias.alias == alias)
    previous = await session.scalar(select(ModelAlias.version).where(*key).with_for_update())
    if previous is None:
        raise NotFound("alias", f"{pipeline_id}/{node_id}/{alias}")
    await session.execute(delete(ModelAlias).where(*key))
    entry = _history(pipeline_id, node_id, alias, None, int(previous), by, utcnow())
    session.add(entry)
    await session.flush()
    return AliasChange(entry, changed=True)


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


async def list_aliases(session: AsyncSession, pipeline_id: str, node_id: str, *, reader: Reader) -> list[ModelAlias]:
    """The alias rows of a node, by name (``active`` only once promoted: see :func:`active_version`).

    Raises:
        NotFound: the pipeline is not the reader's.
    """
    await get_pipeline(session, pipeline_id, reader=reader)
    stmt = (
        select(ModelAlias)
        .where(ModelAlias.pipeline_id == pipeline_id, ModelAlias.node_id == node_id)
        .order_by(ModelAlias.alias)
    )
    return list((await session.scalars(stmt)).all())


async def alias_history(
    session: AsyncSession,
    pipeline_id: str,
    node_id: str,
    alias: str | None = None,
    *,
    reader: Reader,
    limit: int = 100,
    before: int | None = None,
) -> list[ModelAliasHistory]:
    """Alias changes of a node (of one alias when given), newest first.

    Args:
        session: any session.
        pipeline_id: the pipeline.
        node_id: the training node.
        alias: only this alias's changes; every alias's when None.
        reader: who asks.
        limit: at most this many rows.
        before: only rows older than the history row with this id (the next page).

    Raises:
        NotFound: the pipeline is not the reader's.
    """
    await get_pipeline(session, pipeline_id, reader=reader)
    stmt = select(ModelAliasHistory).where(
        ModelAliasHistory.pipeline_id == pipeline_id, ModelAliasHistory.node_id == node_id
    )
    if alias is not None:
        stmt = stmt.where(ModelAliasHistory.alias == alias)
    if before is not None:
        stmt = stmt.where(ModelAliasHistory.id < before)
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
