"""Which database failures are retried and which are taken for a refusal of the data, on a real PostgreSQL.

A failure judged not transient makes a consumer batch be stored one record at a time and the records that fail
dead-lettered, their offsets committed: a state of the whole server judged so (a failover's read-only standby, a
statement timeout) dead-lettered every alert and page that met it. Errors are raised by the server itself and seen
through both drivers' layers the services use: SQLAlchemy's engine (notifier, router API) and asyncpg (router).
"""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_router.db.pool import connect_arguments, make_pool
from alertrouter_shared.database import make_engine
from alertrouter_shared.db_errors import is_transient
from tests.helpers import DatabaseFactory, eventually

TRANSIENT = {
    "25006": "read_only_sql_transaction: a standby, as during a failover",
    "25P03": "idle_in_transaction_session_timeout",
    "40001": "serialization_failure",
    "40P01": "deadlock_detected",
    "53300": "too_many_connections",
    "55P03": "lock_not_available: lock_timeout",
    "57014": "query_canceled: statement_timeout or an operator's cancel",
    "57P01": "admin_shutdown",
    "58030": "io_error",
}
REFUSALS = {
    "22001": "string_data_right_truncation",
    "22021": "character_not_in_repertoire",
    "23505": "unique_violation",
    "23514": "check_violation",
}


def _raise(code: str) -> str:
    return f"DO $$ BEGIN RAISE EXCEPTION 'raised by the test' USING ERRCODE = '{code}'; END $$"


@pytest.fixture(scope="module")
def url(databases: DatabaseFactory) -> str:
    return databases.create()


@pytest.mark.parametrize("code", sorted(TRANSIENT | REFUSALS))
async def test_a_server_state_is_retried_and_a_refusal_of_the_data_is_not(url: str, code: str) -> None:
    engine = make_engine(url, 1)
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as through_engine:
                await conn.execute(text(_raise(code)))
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(**connect_arguments(url))
    try:
        with pytest.raises(asyncpg.PostgresError) as through_asyncpg:
            await connection.execute(_raise(code))
    finally:
        await connection.close()
    expected = code in TRANSIENT
    assert is_transient(through_engine.value) is expected, TRANSIENT.get(code) or REFUSALS[code]
    assert is_transient(through_asyncpg.value) is expected, TRANSIENT.get(code) or REFUSALS[code]


async def _backend(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        pid = await conn.scalar(text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid


async def test_a_connection_to_a_server_that_refuses_writes_is_dropped_so_the_retry_connects_anew(url: str) -> None:
    """A primary demoted by a failover and still reached at the old address refuses every write on the connections
    already open to it; kept in the pool, each retry would meet it again."""
    engine = make_engine(url, 1)
    try:
        async with engine.begin() as conn:  # committed: a setting of the session from then on, as on a standby
            await conn.execute(text("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"))
            before = await conn.scalar(text("SELECT pg_backend_pid()"))
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as refused:
                await conn.execute(text("CREATE TABLE written_after_the_failover (id int)"))
        assert is_transient(refused.value)
        assert await _backend(engine) != before
        async with engine.begin() as conn:  # a new connection: writes again
            await conn.execute(text("CREATE TABLE written_after_the_failover (id int)"))
    finally:
        await engine.dispose()


async def test_a_refusal_of_the_data_keeps_the_connection(url: str) -> None:
    engine = make_engine(url, 1)
    try:
        before = await _backend(engine)
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError):
                await conn.execute(text(_raise("23514")))
        assert await _backend(engine) == before
    finally:
        await engine.dispose()


async def test_the_router_pool_replaces_its_connections_once_one_met_a_server_that_refuses_writes(url: str) -> None:
    """The same for the router's asyncpg pool (its consumer batches and timers)."""
    pool = await make_pool(url, 1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")  # as on a standby
            before = await conn.fetchval("SELECT pg_backend_pid()")
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError) as refused:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("CREATE TABLE written_by_the_router_after_the_failover (id int)")
        assert is_transient(refused.value)

        async def replaced() -> int | None:
            async with pool.acquire() as conn:
                pid = await conn.fetchval("SELECT pg_backend_pid()")
            return pid if pid != before else None

        await eventually(replaced, timeout=5, what="a new connection in the pool")
        async with pool.acquire() as conn, conn.transaction():  # writes again
            await conn.execute("CREATE TABLE written_by_the_router_after_the_failover (id int)")
    finally:
        await pool.close()
