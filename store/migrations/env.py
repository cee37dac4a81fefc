"""Alembic environment: async engines, batch mode on SQLite, a shared connection when given.

``store.migrate`` passes an open connection in ``config.attributes["connection"]``; the
``alembic`` command line (``alembic -c store/migrations/alembic.ini ...``) makes its own
engine from ``sqlalchemy.url`` (or ``MLW`` settings when that is empty).
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from store.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or ""
    if not url:
        from store.settings import load_settings

        url = load_settings().database_url
    return url


def _configure(**kwargs: object) -> None:
    context.configure(target_metadata=target_metadata, compare_type=True, **kwargs)  # type: ignore[arg-type]


def run_migrations_offline() -> None:
    url = _url()
    _configure(url=url, literal_binds=True, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_with_connection(connection: Connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    # The same connection set-up as store.migrate (on SQLite: foreign keys off, checked before commit).
    from store.migrate import migrate_on_connection

    await migrate_on_connection(_url(), run_with_connection)


if context.is_offline_mode():
    run_migrations_offline()
elif (shared := config.attributes.get("connection")) is not None:
    run_with_connection(shared)
else:
    asyncio.run(run_async_migrations())
