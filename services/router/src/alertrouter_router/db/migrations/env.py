"""Alembic environment: async engine from DATABASE_URL, the router's own version table."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from alertrouter_router.db.tables import metadata
from alertrouter_shared.database import make_engine

VERSION_TABLE = "alembic_version_router"


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


url = context.config.get_main_option("sqlalchemy.url")
if not url:
    raise RuntimeError("sqlalchemy.url is not set: the migrate command passes DATABASE_URL")
if context.is_offline_mode():
    context.configure(url=url, target_metadata=metadata, literal_binds=True, version_table=VERSION_TABLE)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async(url))
