"""Autocommit connections and schema migration for the notifier's database (SQLAlchemy 2 async + asyncpg).

The engine itself is ``alertrouter_shared.database.make_engine``, the same as the router's."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


@contextlib.asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection without BEGIN/COMMIT round trips, for work that is one statement (atomic by itself)."""
    async with engine.connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


async def migrate(database_url: str) -> None:
    """Upgrade the notifier's tables to head, on the caller's event loop (usable from tests and the CLI)."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade, alembic_config(database_url))
    finally:
        await engine.dispose()


MIGRATION_LOCK_ID = 0x6E6F7469  # "noti": serialises replicas migrating at the same time


def _upgrade(connection: Connection, config: Config) -> None:
    connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
