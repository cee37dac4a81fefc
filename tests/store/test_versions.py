"""Model versions and aliases: gapless numbering under concurrency, ranking, promotion (both databases)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.aliases import active_version, alias_history, aliases_by_version, get_alias, set_alias
from store.deletion import delete_version
from store.engine import create_engine, create_session_factory
from store.errors import InvalidInput, NotFound
from store.models import ModelVersion
from store.reader import Reader
from store.versions import create_model_version, get_version, list_versions, next_model_version
from tests.store.conftest import Tenant, Tenants, new_job

CLAIMS = 20
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def separate_factories(migrated_database_url: str) -> AsyncIterator[list[async_sessionmaker[AsyncSession]]]:
    """One engine (and so one connection and write queue) per claimant."""
    engines = [create_engine(migrated_database_url, pool_size=1, max_overflow=0) for _ in range(CLAIMS)]
    try:
        yield [create_session_factory(engine) for engine in engines]
    finally:
        for engine in engines:
            await engine.dispose()


async def _version(factory: async_sessionmaker[AsyncSession], tenant: Tenant, metrics: dict[str, object]) -> int:
    job = await new_job(factory, tenant)
    async with factory.begin() as session:
        row = await create_model_version(
            session,
            pipeline_id=tenant.pipeline.pipeline_id,
            node_id="train",
            job_id=job.id,
            model_type="random_forest",
            hyperparameters={"n_estimators": 10},
            metrics=metrics,
            artifact_uri=f"file:///models/{job.id}.joblib",
            artifact_sha256="a" * 64,
        )
    return row.version


async def test_twenty_concurrent_claims_on_separate_connections_get_one_to_twenty(
    separate_factories: list[async_sessionmaker[AsyncSession]], tenants: Tenants
) -> None:
    pipeline_id = tenants.alice.pipeline.pipeline_id

    async def claim(factory: async_sessionmaker[AsyncSession]) -> int:
        async with factory.begin() as session:
            return await next_model_version(session, pipeline_id, "train")

    claimed = await asyncio.gather(*(claim(f) for f in separate_factories))
    assert sorted(claimed) == list(range(1, CLAIMS + 1))
    async with separate_factories[0].begin() as session:
        assert await next_model_version(session, pipeline_id, "other-node") == 1


async def test_a_rolled_back_claim_leaves_no_gap(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    pipeline_id = tenants.alice.pipeline.pipeline_id

    async def claim_then_fail() -> None:
        async with session_factory.begin() as session:
            assert await next_model_version(session, pipeline_id, "train") == 1
            raise RuntimeError("training failed after the claim")

    with pytest.raises(RuntimeError):
        await claim_then_fail()
    async with session_factory.begin() as session:
        assert await next_model_version(session, pipeline_id, "train") == 1


@pytest.mark.slow
async def test_claims_from_several_processes_on_one_sqlite_file_are_gapless(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(sqlite_database_url)
    from store.migrate import upgrade_async

    await upgrade_async(engine)
    factory = create_session_factory(engine)
    from tests.store.conftest import _tenant

    async with factory.begin() as session:
        tenant = await _tenant(session, "alice")
    await engine.dispose()
    script = textwrap.dedent(
        f"""
        import asyncio
        from store.engine import create_engine, create_session_factory
        from store.versions import next_model_version

        async def main():
            engine = create_engine({sqlite_database_url!r})
            factory = create_session_factory(engine)
            for _ in range(5):
                async with factory.begin() as session:
                    print(await next_model_version(session, {tenant.pipeline.pipeline_id!r}, "train"), flush=True)
            await engine.dispose()

        asyncio.run(main())
        """
    )
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    outputs = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err.decode() for _, err in outputs]
    numbers = sorted(int(line) for out, _ in outputs for line in out.split())
    assert numbers == list(range(1, 21))


async def test_versions_rank_by_metric_with_losses_ascending(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    alice = tenants.alice
    for accuracy, rmse in [(0.7, 3.0), (0.9, 1.0), (0.8, 2.0)]:
        await _version(session_factory, alice, {"test": {"accuracy": accuracy, "rmse": rmse}, "train": {}})
    await _version(session_factory, alice, {"train": {"accuracy": 1.0}})
    pid = alice.pipeline.pipeline_id
    async with session_factory() as session:
        by_version = await list_versions(session, pid, "train", reader=alice.reader)
        by_accuracy = await list_versions(session, pid, "train", reader=alice.reader, order_by="accuracy", limit=2)
        by_rmse = await list_versions(session, pid, "train", reader=alice.reader, order_by="test.rmse")
        by_train = await list_versions(session, pid, "train", reader=alice.reader, order_by="train.accuracy", limit=1)
        with pytest.raises(InvalidInput) as bad:
            await list_versions(session, pid, "train", reader=alice.reader, order_by="speed")
        assert (await get_version(session, pid, "train", 2, reader=alice.reader)).metrics["test"]["accuracy"] == 0.9
        with pytest.raises(NotFound):
            await get_version(session, pid, "train", 99, reader=alice.reader)
    assert [v.version for v in by_version] == [4, 3, 2, 1]
    assert [v.version for v in by_accuracy] == [2, 3]
    assert [v.version for v in by_rmse] == [2, 3, 1, 4]
    assert [v.version for v in by_train] == [4]
    assert bad.value.field == "order_by"


async def test_one_job_makes_at_most_one_version(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    alice = tenants.alice
    await _version(session_factory, alice, {})
    async with session_factory() as session:
        job_id = (await session.scalars(select(ModelVersion.job_id))).one()
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        async with session_factory.begin() as session:
            await create_model_version(
                session,
                pipeline_id=alice.pipeline.pipeline_id,
                node_id="train",
                job_id=job_id,
                model_type="random_forest",
                hyperparameters={},
                metrics={},
                artifact_uri="file:///x",
                artifact_sha256="b" * 64,
            )


async def test_promoting_and_rolling_back_moves_the_alias_and_appends_history(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    alice = tenants.alice
    pid = alice.pipeline.pipeline_id
    for _ in range(3):
        await _version(session_factory, alice, {})
    async with session_factory.begin() as session:
        await set_alias(session, pid, "train", "active", 3, alice.user.id)
        await set_alias(session, pid, "train", "active", 2, alice.user.id)
        with pytest.raises(NotFound):
            await set_alias(session, pid, "train", "active", 9, alice.user.id)
        with pytest.raises(InvalidInput):
            await set_alias(session, pid, "train", "Not Valid!", 1, alice.user.id)
    async with session_factory() as session:
        active = await get_alias(session, pid, "train", "active", reader=alice.reader)
        history = await alias_history(session, pid, "train", "active", reader=alice.reader)
        assert await get_alias(session, pid, "train", "staging", reader=alice.reader) is None
        with pytest.raises(NotFound):
            await get_alias(session, pid, "train", "active", reader=tenants.bob.reader)
        with pytest.raises(NotFound):
            await alias_history(session, pid, "train", reader=tenants.bob.reader)
        admin_view = await get_alias(session, pid, "train", reader=Reader.system())
    assert active is not None and active.version == 2 and active.updated_by == alice.user.id
    assert admin_view is not None and admin_view.version == 2
    assert [(h.version, h.previous_version) for h in history] == [(2, 3), (3, None)]


async def test_aliases_by_version_groups_alias_names_and_shows_another_users_node_as_empty(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    alice = tenants.alice
    pid = alice.pipeline.pipeline_id
    for _ in range(2):
        await _version(session_factory, alice, {})
    async with session_factory.begin() as session:
        await set_alias(session, pid, "train", "active", 2, alice.user.id)
        await set_alias(session, pid, "train", "staging", 2, alice.user.id)
        await set_alias(session, pid, "train", "canary", 1, alice.user.id)
    async with session_factory() as session:
        mine = await aliases_by_version(session, pid, "train", reader=alice.reader)
        admin = await aliases_by_version(session, pid, "train", reader=Reader.system())
        bobs = await aliases_by_version(session, pid, "train", reader=tenants.bob.reader)
    assert {v: sorted(names) for v, names in mine.items()} == {1: ["canary"], 2: ["active", "staging"]}
    assert {v: sorted(names) for v, names in admin.items()} == {1: ["canary"], 2: ["active", "staging"]}
    assert bobs == {}


async def test_the_first_version_is_active_until_a_promotion_without_any_alias_written(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    alice = tenants.alice
    pid = alice.pipeline.pipeline_id
    async with session_factory() as session:
        assert await active_version(session, pid, "train") is None
    await _version(session_factory, alice, {})
    await _version(session_factory, alice, {})
    async with session_factory() as session:
        assert await active_version(session, pid, "train") == 1
        assert await get_alias(session, pid, "train", "active", reader=alice.reader) is None  # nothing written
    async with session_factory.begin() as session:
        await set_alias(session, pid, "train", "active", 2, alice.user.id)
    async with session_factory() as session:
        assert await active_version(session, pid, "train") == 2


async def test_without_a_promotion_a_deleted_first_version_hands_over_to_the_next(
    session_factory: async_sessionmaker[AsyncSession], tenants: Tenants
) -> None:
    alice = tenants.alice
    pid = alice.pipeline.pipeline_id
    for _ in range(3):
        await _version(session_factory, alice, {})
    async with session_factory.begin() as session:
        await delete_version(session, pid, "train", 1, reader=alice.reader, by="alice")
    async with session_factory() as session:
        assert await active_version(session, pid, "train") == 2
