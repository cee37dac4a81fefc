"""Engines: SQLite pragmas on every connection, immediate write transactions, read sessions."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from store.engine import create_engine, create_session_factory, read_session
from store.errors import InvalidInput, StoreBusy
from store.models import User
from store.types import utcnow


async def test_every_sqlite_connection_has_wal_busy_timeout_and_foreign_keys(sqlite_database_url: str) -> None:
    engine = create_engine(sqlite_database_url)
    try:
        conns = [await engine.connect() for _ in range(3)]
        for conn in conns:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 30000
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        for conn in conns:
            await conn.close()
    finally:
        await engine.dispose()


async def test_foreign_keys_are_enforced(migrated_engine: AsyncEngine) -> None:
    factory = create_session_factory(migrated_engine)
    with pytest.raises(IntegrityError):
        async with factory.begin() as session:
            await session.execute(
                text(
                    "INSERT INTO api_tokens (id, user_id, token_sha256, created_at) VALUES ('t', 'nobody', 'x', :now)"
                ),
                {"now": utcnow().replace(tzinfo=None)},
            )


async def test_timestamps_come_back_timezone_aware_in_utc(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory.begin() as session:
        session.add(User(id="u1", name="ann", is_admin=False, created_at=utcnow()))
    async with read_session(session_factory) as session:
        user = await session.get(User, "u1")
    assert user is not None and user.created_at.utcoffset() is not None and user.created_at.utcoffset().seconds == 0


async def test_a_reader_is_not_blocked_by_a_writer_of_another_process(sqlite_database_url: str) -> None:
    from store.migrate import upgrade_async

    await upgrade_async(sqlite_database_url)
    writer_engine, reader_engine = create_engine(sqlite_database_url), create_engine(sqlite_database_url)
    writer, reader = create_session_factory(writer_engine), create_session_factory(reader_engine)
    try:
        async with writer.begin() as wsession:
            wsession.add(User(id="u1", name="ann", is_admin=False, created_at=utcnow()))
            await wsession.flush()  # the writer now holds SQLite's write lock
            async with read_session(reader) as rsession:
                count = (await rsession.execute(text("SELECT count(*) FROM users"))).scalar()
            assert count == 0  # answered at once, from the last committed snapshot
    finally:
        await writer_engine.dispose()
        await reader_engine.dispose()


async def test_a_nested_write_transaction_fails_with_store_busy_instead_of_hanging(sqlite_database_url: str) -> None:
    engine = create_engine(sqlite_database_url)
    factory = create_session_factory(engine)
    factory._lock_timeout_s = 0.2  # keep the test short; the default waits as long as busy_timeout
    try:
        async with factory.begin():
            with pytest.raises(StoreBusy):
                async with factory.begin():
                    pass
        async with factory.begin() as session:  # the lock was released
            assert (await session.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await engine.dispose()


async def test_writers_of_one_factory_take_turns(sqlite_database_url: str) -> None:
    engine = create_engine(sqlite_database_url)
    factory = create_session_factory(engine)
    inside = 0
    most = 0

    async def write() -> None:
        nonlocal inside, most
        async with factory.begin() as session:
            inside += 1
            most = max(most, inside)
            await session.execute(text("SELECT 1"))
            await asyncio.sleep(0.001)
            inside -= 1

    try:
        await asyncio.gather(*(write() for _ in range(10)))
    finally:
        await engine.dispose()
    assert most == 1


def test_an_unsupported_driver_is_refused_naming_the_setting() -> None:
    with pytest.raises(InvalidInput) as err:
        create_engine("mysql+aiomysql://localhost/db")
    assert err.value.field == "database.url"


async def test_a_read_cancelled_while_its_begin_is_on_the_drivers_thread_leaves_no_transaction_for_the_next_session(
    sqlite_database_url: str,
) -> None:
    # One connection, so the next session gets the very connection the cancelled one had.
    engine = create_engine(sqlite_database_url, pool_size=1, max_overflow=0)
    factory = create_session_factory(engine)
    try:
        async with factory.begin() as session:
            await session.execute(text("CREATE TABLE t (a INTEGER)"))
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
        # Keep the driver's thread busy, so the read's BEGIN waits there when its task is cancelled
        # (a websocket closed during its snapshot read); the BEGIN still runs afterwards.
        busy = asyncio.ensure_future(driver._execute(time.sleep, 0.5))

        async def read() -> None:
            async with read_session(factory) as session:
                await session.execute(text("SELECT 1"))

        reading = asyncio.ensure_future(read())
        await asyncio.sleep(0.1)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        await busy

        async with factory.begin() as session:  # was: "cannot start a transaction within a transaction"
            await session.execute(text("INSERT INTO t VALUES (1)"))
        async with read_session(factory) as session:
            assert (await session.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
    finally:
        await engine.dispose()
