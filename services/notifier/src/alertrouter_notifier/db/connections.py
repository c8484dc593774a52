"""Autocommit connections for the notifier's one-statement hot paths (SQLAlchemy 2 async + asyncpg).

The engine itself is ``alertrouter_shared.database.make_engine``, the same as the router's."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


@contextlib.asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection without BEGIN/COMMIT round trips, for work that is one statement (atomic by itself)."""
    async with engine.connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")
