"""Alias writes (set, move, remove, promote) with their ``alias.changed`` event, published after commit.

An alias write is one transaction (``store.aliases``); its event goes out through the one
publish path of every event (:func:`actors.jobs.outcomes.commit_then_publish`) on the
channel of the pipeline's owner, so the owner's dashboard and canvas (and an admin's
socket subscribed to the pipeline) follow aliases live. A write that changed nothing
publishes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from actors.jobs.context import JobContext
from actors.jobs.outcomes import commit_then_publish
from store.alias_events import alias_event
from store.aliases import AliasChange
from store.pipelines import get_pipeline
from store.reader import Reader

AliasWrite = Callable[[AsyncSession], Awaitable[AliasChange]]
"""One alias write inside the caller's transaction (``store.aliases.set_alias`` or ``remove_alias``)."""


async def change_alias(ctx: JobContext, reader: Reader, pipeline_id: str, write: AliasWrite) -> AliasChange:
    """Run ``write`` in one transaction on a pipeline ``reader`` may write; publish the change to its owner.

    Raises:
        NotFound: the pipeline is missing or not the reader's (and whatever ``write`` raises).
    """
    # A pipeline's owner never changes: read it first, so the channel is known before the write.
    async with ctx.sessions() as session:
        owner_id = (await get_pipeline(session, pipeline_id, reader=reader)).owner_id
    done: list[AliasChange] = []

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        await get_pipeline(session, pipeline_id, reader=reader)  # deleted meanwhile: 404, nothing written
        change = await write(session)
        done.append(change)
        return [alias_event(change.entry)] if change.changed else []

    await commit_then_publish(ctx, owner_id, work)
    return done[0]
