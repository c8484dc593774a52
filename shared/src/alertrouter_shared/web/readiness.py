"""The database check behind ``/readyz`` of the services that keep one (router, notifier)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def database_reachable(engine: AsyncEngine) -> bool:
    """True when a connection answers ``SELECT 1``; any failure means not ready (readiness never raises)."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
