"""Resolving a version reference (a number or an alias name) to one model version.

Every place that takes a version (the validation node's config, batch predictions'
``{v}``, downloads) takes a reference (see :mod:`store.alias_names`). ``active``
resolves as the service uses it: where the alias points, else the node's first live
version until a first promotion.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.alias_names import parse_version_ref
from store.aliases import ACTIVE_ALIAS, active_version
from store.errors import NotFound, VersionDeleted
from store.models import ModelAlias, ModelVersion
from store.pipelines import get_pipeline
from store.reader import Reader
from store.versions import get_version


async def alias_target(session: AsyncSession, pipeline_id: str, node_id: str, alias: str) -> int | None:
    """The version ``alias`` points at (``active`` with its default), or ``None``. Not reader-scoped."""
    if alias == ACTIVE_ALIAS:
        return await active_version(session, pipeline_id, node_id)
    pointed = await session.scalar(
        select(ModelAlias.version).where(
            ModelAlias.pipeline_id == pipeline_id, ModelAlias.node_id == node_id, ModelAlias.alias == alias
        )
    )
    return int(pointed) if pointed is not None else None


async def resolve_version_ref(
    session: AsyncSession,
    pipeline_id: str,
    node_id: str,
    ref: object,
    *,
    reader: Reader,
    field: str = "version",
    allow_deleted: bool = False,
) -> ModelVersion:
    """The model version ``ref`` names: a number (``3`` or ``"3"``) or an alias (``"champion"``).

    Args:
        session: any session; the function only reads.
        pipeline_id: the pipeline of the training node.
        node_id: the training node.
        ref: the client's reference, as given (checked with :func:`store.alias_names.parse_version_ref`).
        reader: who asks; another user's pipeline looks missing.
        field: the request field errors name (``version``, ``versions[1]``, ...).
        allow_deleted: return a deleted version's tombstone instead of raising.

    Raises:
        InvalidInput: ``ref`` is malformed (names ``field``); a 422.
        NotFound: the pipeline is not the reader's, the version does not exist, or the
            alias is not set on this node (kind ``alias``); a 404.
        VersionDeleted: the version was deleted (a 409 ``version_deleted`` naming ``field``).
    """
    parsed = parse_version_ref(ref, field=field)
    if isinstance(parsed, int):
        row = await get_version(session, pipeline_id, node_id, parsed, reader=reader)
    else:
        await get_pipeline(session, pipeline_id, reader=reader)
        number = await alias_target(session, pipeline_id, node_id, parsed)
        if number is None:
            raise NotFound("alias", f"{pipeline_id}/{node_id}/{parsed}")
        row = await get_version(session, pipeline_id, node_id, number, reader=reader)
    if row.deleted_at is not None and not allow_deleted:
        raise VersionDeleted(row.version, field)
    return row
