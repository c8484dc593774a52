"""Pooled connections plan their statements again after a while: a plan cached while a table was new and empty
does not keep scanning it sequentially as it grows (alertrouter_shared.database.PlanRefresh).

Each test shows the stale plan too (refresh far off: the lookup keeps reading all 20,000 rows), so the refreshed
case cannot pass because the database stopped making such plans.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import text

from alertrouter_router.db.pool import make_pool
from alertrouter_shared.database import make_engine
from tests.helpers import DatabaseFactory, eventually

ROWS = 20_000
# Wide rows: on a table never analyzed PostgreSQL assumes ten pages of them, so its generic plan for a lookup of
# ten keys is a sequential scan, which it keeps for the prepared statement while the table grows.
PROBE = "CREATE TABLE plan_probe (key text PRIMARY KEY, body varchar(2000))"
FILL = f"INSERT INTO plan_probe SELECT 'k' || g, 'b' FROM generate_series(1, {ROWS}) g"
ROWS_READ = "SELECT pg_stat_get_xact_tuples_returned('plan_probe'::regclass)"  # by sequential scans, this transaction
KEYS = [[f"k{i}-{j}" for j in range(10)] for i in range(8)]  # eight executions: PostgreSQL settles on a generic plan


async def _until(lookup: Callable[[], Awaitable[int]], expected: int, deadline: float = 10.0) -> list[int]:
    """The rows each lookup read sequentially, until one read ``expected`` (or the deadline)."""
    seen: list[int] = []
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        seen.append(await lookup())
        if seen[-1] == expected:
            break
    return seen


@pytest.mark.parametrize(("refresh_seconds", "expected"), [(3600.0, ROWS), (0.5, 0)])
async def test_router_pool_plans_again_after_the_table_grew(
    databases: DatabaseFactory, refresh_seconds: float, expected: int
) -> None:
    pool = await make_pool(databases.create(), 1, plan_refresh_seconds=refresh_seconds)
    sql = "SELECT key FROM plan_probe WHERE key = ANY($1::text[])"
    try:
        async with pool.acquire() as conn:
            await conn.execute(PROBE)
            for keys in KEYS:
                await conn.fetch(sql, keys)
            await conn.execute(FILL)

        async def lookup() -> int:
            async with pool.acquire() as conn, conn.transaction():
                await conn.fetch(sql, ["k1", "k2"])
                return int(await conn.fetchval(ROWS_READ))

        seen = await _until(lookup, expected)
    finally:
        await pool.close()
    assert seen[-1] == expected, seen


@pytest.mark.parametrize(("refresh_seconds", "expected"), [(3600.0, ROWS), (0.5, 0)])
async def test_engine_plans_again_after_the_table_grew(
    databases: DatabaseFactory, refresh_seconds: float, expected: int
) -> None:
    engine = make_engine(databases.create(), 1, plan_refresh_seconds=refresh_seconds)
    sql = text("SELECT key FROM plan_probe WHERE key = ANY(CAST(:keys AS text[]))")
    try:
        async with engine.begin() as conn:
            await conn.execute(text(PROBE))
        async with engine.connect() as conn:
            for keys in KEYS:
                await conn.execute(sql, {"keys": keys})
            await conn.execute(text(FILL))
            await conn.commit()

        async def lookup() -> int:
            async with engine.begin() as conn:
                await conn.execute(sql, {"keys": ["k1", "k2"]})
                return int((await conn.execute(text(ROWS_READ))).scalar_one())

        seen = await _until(lookup, expected)
    finally:
        await engine.dispose()
    assert seen[-1] == expected, seen


async def test_a_connection_the_server_dropped_is_replaced_at_its_refresh(databases: DatabaseFactory) -> None:
    """The refresh is the first statement on a checked-out connection: one PostgreSQL had dropped failed the
    caller (a 503 from the API) and went back to the pool to fail the next one too."""
    url = databases.create()
    engine = make_engine(url, 1, plan_refresh_seconds=0.0)
    admin = make_engine(url, 1)
    try:
        async with engine.connect() as conn:
            pid = int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        async with admin.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

            async def gone() -> bool:
                found = await conn.execute(text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})
                return found.first() is None

            await eventually(gone, what="the pooled connection's backend gone")
        async with engine.connect() as conn:
            assert int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()) != pid
    finally:
        await engine.dispose()
        await admin.dispose()
