"""Named aliases: the one write path with its history, removal, and the version-reference resolver (both databases)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from store import migrate
from store.aliases import active_version, alias_history, get_alias, remove_alias, set_alias
from store.deletion import delete_version
from store.engine import create_engine, create_session_factory
from store.errors import InUse, InvalidInput, NotFound, VersionDeleted
from store.reader import Reader
from store.version_refs import resolve_version_ref
from store.versions import create_model_version
from tests.store.conftest import Tenant, Tenants, new_job


async def _versions(factory: async_sessionmaker[AsyncSession], tenant: Tenant, count: int) -> None:
    for _ in range(count):
        job = await new_job(factory, tenant)
        async with factory.begin() as session:
            await create_model_version(
                session,
                pipeline_id=tenant.pipeline.pipeline_id,
                node_id="train",
                job_id=job.id,
                model_type="random_forest",
                hyperparameters={},
                metrics={},
                artifact_uri=f"file:///models/{job.id}.joblib",
                artifact_sha256="a" * 64,
            )


async def test_set_move_and_remove_each_append_one_history_row_with_from_and_to(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    alice = tenants.alice
    pid = alice.pipeline.pipeline_id
    await _versions(session_factory, alice, 3)
    async with session_factory.begin() as session:
        await set_alias(session, pid, "train", "champion", 1, "alice")
        await set_alias(session, pid, "train", "champion", 3, "alice")
        await set_alias(session, pid, "train", "challenger", 2, "alice")
        removed = await remove_alias(session, pid, "train", "champion", "alice")
        await set_alias(session, pid, "train", "champion", 2, "alice")
        again = await set_alias(session, pid, "train", "champion", 2, "bob")
    assert (removed.entry.previous_version, removed.entry.version) == (3, None)
    assert not again.changed and again.entry.version == 2 and again.entry.changed_by == "alice"  # nothing written
    async with session_factory() as session:
        champion = await alias_history(session, pid, "train", "champion", reader=alice.reader)
        everything = await alias_history(session, pid, "train", reader=alice.reader)
        current = await get_alias(session, pid, "train", "champion", reader=alice.reader)
    assert [(h.previous_version, h.version) for h in champion] == [(None, 2), (3, None), (1, 3), (None, 1)]
    assert all(h.changed_by == "alice" and h.changed_at is not None for h in champion)
    assert len(everything) == 5
    async with session_factory() as session:
        newest = await alias_history(session, pid, "train", reader=alice.reader, limit=2)
        older = await alias_history(session, pid, "train", reader=alice.reader, limit=10, before=newest[-1].id)
    assert [h.id for h in newest + older] == [h.id for h in everything]
    assert current is not None and current.version == 2


async def test_a_deleted_version_cannot_be_aliased_and_an_aliased_version_cannot_be_deleted(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    alice = tenants.alice
    pid = alice.pipeline.pipeline_id
    await _versions(session_factory, alice, 2)
    async with session_factory.begin() as session:
        await set_alias(session, pid, "train", "active", 2, "alice")
        await delete_version(session, pid, "train", 1, reader=alice.reader, by="alice")
    async with session_factory.begin() as session:
        with pytest.raises(VersionDeleted) as deleted:
            await set_alias(session, pid, "train", "staging", 1, "alice")
    assert deleted.value.code == "version_deleted" and deleted.value.details["version"] == 1
    async with session_factory.begin() as session:
        await set_alias(session, pid, "train", "staging", 2, "alice")
    async with session_factory.begin() as session:
        with pytest.raises(InUse) as refused:
            await delete_version(session, pid, "train", 2, reader=alice.reader, by="alice")
    assert refused.value.code == "alias_points_here" and refused.value.details == {"aliases": ["active", "staging"]}
    async with session_factory() as session:
        assert [h.alias for h in await alias_history(session, pid, "train", reader=alice.reader)] == [
            "staging",
            "active",
        ]  # the refused write left no history


async def test_removing_active_returns_the_node_to_its_first_live_version(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    alice = tenants.alice
    pid = alice.pipeline.pipeline_id
    await _versions(session_factory, alice, 3)
    async with session_factory.begin() as session:
        await set_alias(session, pid, "train", "active", 3, "alice")
    async with session_factory.begin() as session:
        await remove_alias(session, pid, "train", "active", "alice")
        with pytest.raises(NotFound):
            await remove_alias(session, pid, "train", "active", "alice")
        with pytest.raises(InvalidInput):
            await remove_alias(session, pid, "train", "9lives", "alice")
    async with session_factory() as session:
        assert await active_version(session, pid, "train") == 1


async def test_the_resolver_takes_numbers_digit_strings_and_alias_names(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    alice = tenants.alice
    pid = alice.pipeline.pipeline_id
    await _versions(session_factory, alice, 3)
    async with session_factory.begin() as session:
        await set_alias(session, pid, "train", "champion", 2, "alice")
        await delete_version(session, pid, "train", 3, reader=alice.reader, by="alice")
    async with session_factory() as session:

        async def version(ref: object, reader: Reader = alice.reader) -> int:
            return (await resolve_version_ref(session, pid, "train", ref, reader=reader)).version

        assert await version(1) == 1
        assert await version("2") == 2
        assert await version("champion") == 2
        assert await version("active") == 1  # the default before any promotion
        assert await version("champion", tenants.admin_reader) == 2  # admins read every user's objects
        with pytest.raises(NotFound) as unknown_alias:
            await version("challenger")
        assert unknown_alias.value.kind == "alias"
        with pytest.raises(NotFound):
            await version(9)
        with pytest.raises(NotFound):
            await version("champion", tenants.bob.reader)  # another user's node looks missing
        with pytest.raises(InvalidInput) as bad:
            await resolve_version_ref(session, pid, "train", "Not an alias", reader=alice.reader, field="versions[0]")
        assert bad.value.field == "versions[0]"
        with pytest.raises(VersionDeleted) as deleted:
            await version(3)
        assert deleted.value.details == {"field": "version", "version": 3}
        tombstone = await resolve_version_ref(session, pid, "train", 3, reader=alice.reader, allow_deleted=True)
        assert tombstone.deleted_at is not None


async def test_concurrent_first_sets_of_one_alias_chain_their_history_exactly(
    migrated_database_url: str, tenants: Tenants, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Each writer on its own connection: the history must read as one chain, no two rows from nothing."""
    alice = tenants.alice
    pid = alice.pipeline.pipeline_id
    await _versions(session_factory, alice, 4)
    engines = [create_engine(migrated_database_url, pool_size=1, max_overflow=0) for _ in range(4)]
    try:

        async def point(engine_index: int) -> None:
            async with create_session_factory(engines[engine_index]).begin() as session:
                await set_alias(session, pid, "train", "champion", engine_index + 1, "alice")

        await asyncio.gather(*(point(i) for i in range(4)))
    finally:
        for engine in engines:
            await engine.dispose()
    async with session_factory() as session:
        history = list(reversed(await alias_history(session, pid, "train", "champion", reader=alice.reader)))
        current = await get_alias(session, pid, "train", "champion", reader=alice.reader)
    assert history[0].previous_version is None
    assert [h.previous_version for h in history[1:]] == [h.version for h in history[:-1]]
    assert current is not None and current.version == history[-1].version


async def test_downgrading_below_0010_drops_only_the_removal_rows_and_upgrading_again_works(
    migrated_database_url: str, migrated_engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession],
    tenants: Tenants,
) -> None:
    alice = tenants.alice
    pid = alice.pipeline.pipeline_id
    await _versions(session_factory, alice, 2)
    async with session_factory.begin() as session:
        await set_alias(session, pid, "train", "champion", 1, "alice")
        await remove_alias(session, pid, "train", "champion", "alice")
        await set_alias(session, pid, "train", "staging", 2, "alice")
    await migrated_engine.dispose()  # no pooled connection holds the table during ALTER

    async def rows() -> list[tuple[str, int | None, int | None]]:
        async with migrated_engine.connect() as conn:
            result = await conn.execute(
                text("SELECT alias, previous_version, version FROM model_alias_history ORDER BY id")
            )
            out = [(str(r[0]), r[1], r[2]) for r in result]
        await migrated_engine.dispose()
        return out

    await migrate.downgrade_async(migrated_database_url, "0009")
    assert await rows() == [("champion", None, 1), ("staging", None, 2)]
    await migrate.upgrade_async(migrated_database_url)
    assert await migrate.current_async(migrated_database_url) == migrate.head_revision()
    async with session_factory.begin() as session:
        await remove_alias(session, pid, "train", "staging", "alice")
    assert await rows() == [("champion", None, 1), ("staging", None, 2), ("staging", 2, None)]
