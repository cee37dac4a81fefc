"""Migrations: empty -> head -> base on both databases, head matches the models exactly, no step loses rows."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from store import migrate
from store.aliases import set_alias
from store.engine import create_engine
from store.models import Base
from store.versions import create_model_version
from tests.store.conftest import Tenants, new_job

TABLES = {
    "users",
    "api_tokens",
    "dataset_sources",
    "pipelines",
    "training_jobs",
    "training_job_events",
    "model_versions",
    "model_version_counters",
    "model_aliases",
    "model_alias_history",
    "pipeline_lineage",
    "training_job_insights",
}


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_migrations_go_from_empty_to_head_and_back_to_base(database_url: str) -> None:
    assert await migrate.current_async(database_url) is None
    await migrate.upgrade_async(database_url)
    assert await migrate.current_async(database_url) == migrate.head_revision()
    assert await _tables(database_url) == TABLES | {"alembic_version"}
    await migrate.downgrade_async(database_url)
    assert await migrate.current_async(database_url) is None
    assert await _tables(database_url) == {"alembic_version"}
    await migrate.upgrade_async(database_url)
    assert await migrate.current_async(database_url) == migrate.head_revision()


def _differences(conn: Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
    return list(compare_metadata(context, Base.metadata))


async def test_autogenerate_finds_no_difference_between_head_and_the_models(migrated_engine: AsyncEngine) -> None:
    async with migrated_engine.connect() as conn:
        assert await conn.run_sync(_differences) == []


async def test_constraint_names_are_the_same_on_every_database(migrated_engine: AsyncEngine) -> None:
    def names(conn: Connection) -> dict[str, set[str]]:
        inspector = inspect(conn)
        return {
            "uq": {u["name"] or "" for u in inspector.get_unique_constraints("training_jobs")},
            "fk": {f["name"] or "" for f in inspector.get_foreign_keys("model_aliases")},
            "ix": {
                i["name"] or "" for i in inspector.get_indexes("training_jobs") if not i.get("duplicates_constraint")
            },
        }

    async with migrated_engine.connect() as conn:
        found = await conn.run_sync(names)
    assert found["uq"] == {"uq_training_jobs_user_id_idempotency_key"}
    assert found["fk"] == {"fk_model_aliases_pipeline_id_node_id_version_model_versions"}
    assert found["ix"] == {
        "ix_training_jobs_user_id_created_at",
        "ix_training_jobs_pipeline_id_node_id",
        "ix_training_jobs_status_admitted_at_user_id",
        "ix_training_jobs_user_id_status_admitted_at",
        "ix_training_jobs_created_at_id",
    }


def test_the_sync_api_works_outside_and_inside_an_event_loop(sqlite_database_url: str) -> None:
    def cli_like() -> str | None:
        migrate.upgrade(sqlite_database_url)
        assert migrate.current(sqlite_database_url) == migrate.head_revision()

        async def from_async_code() -> str | None:
            migrate.downgrade(sqlite_database_url)
            return migrate.current(sqlite_database_url)

        return asyncio.run(from_async_code())

    # In a thread of its own, like the CLI's main thread: asyncio.run here would reset the
    # event loop that pytest-asyncio keeps for this thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(cli_like).result() is None


async def test_every_downgrade_and_upgrade_step_keeps_the_rows_of_every_table(
    migrated_database_url: str, migrated_engine: AsyncEngine, tenants: Tenants,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """SQLite rebuilds a table to alter it; with foreign keys enforced that rebuild cascaded
    (downgrading 0011 deleted every model version and event). No step may lose a row."""
    job = await new_job(session_factory, tenants.alice)
    async with session_factory.begin() as session:
        await create_model_version(
            session, pipeline_id=tenants.alice.pipeline.pipeline_id, node_id="train", job_id=job.id,
            model_type="random_forest", hyperparameters={}, metrics={}, artifact_uri="file:///m",
            artifact_sha256="a" * 64,
        )
        await set_alias(session, tenants.alice.pipeline.pipeline_id, "train", "champion", 1, "alice")
    kept = ("training_jobs", "training_job_events", "model_versions", "model_aliases", "model_alias_history")

    async def counts() -> dict[str, int]:
        async with migrated_engine.connect() as conn:
            found = {t: int((await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()) for t in kept}
        await migrated_engine.dispose()  # no pooled connection holds a table while the next step alters it
        return found

    before = await counts()
    assert min(before.values()) >= 1
    script = ScriptDirectory.from_config(migrate.alembic_config())
    # Down one step at a time from head to 0007 (0008 rebuilds model_versions, 0011 training_jobs), then up.
    for revision in script.walk_revisions(base="0007", head="heads"):
        if revision.revision == "0007":
            break
        await migrate.downgrade_async(migrated_database_url, str(revision.down_revision))
        assert await counts() == before, f"downgrading {revision.revision} lost rows"
    await migrate.upgrade_async(migrated_database_url)
    assert await counts() == before
