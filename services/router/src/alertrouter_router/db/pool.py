"""The hot path's asyncpg pool: the consumer batch and the timer loop talk to PostgreSQL without the ORM.

Built from the same ``DATABASE_URL`` (an SQLAlchemy URL) as the engine that serves the API's reads and Alembic;
JSON columns are decoded and encoded with orjson.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeAlias

import asyncpg
import orjson
from sqlalchemy.engine import make_url

from alertrouter_shared.database import PLAN_REFRESH_SECONDS, PlanRefresh
from alertrouter_shared.db_errors import READ_ONLY, sqlstate

Conn: TypeAlias = "asyncpg.Connection[Any]"


def connect_arguments(database_url: str) -> dict[str, Any]:
    """asyncpg's keyword arguments for an SQLAlchemy ``postgresql+asyncpg://`` URL (credentials kept, decoded)."""
    url = make_url(database_url)
    arguments: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "database": url.database,
    }
    ssl = url.query.get("ssl") or url.query.get("sslmode")
    if ssl:
        arguments["ssl"] = ssl if isinstance(ssl, str) else ssl[0]
    return {k: v for k, v in arguments.items() if v is not None}


class _Connection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg is untyped here
    def get_reset_query(self) -> str:
        """None: asyncpg's (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) was a round trip per release, and the
        router leaves nothing for it to reset: its advisory locks are transaction-scoped, it never LISTENs or SETs
        a session setting, and its cursors live in transactions. An open transaction is still rolled back."""
        return ""

    @property
    def state(self) -> dict[str, Any]:
        """What the pool keeps about this connection (``PlanRefresh``); gone with it."""
        return self.__dict__.setdefault("_state", {})  # type: ignore[no-any-return]


_expiring: set[asyncio.Future[None]] = set()  # pools' expire_connections() under way (kept from the GC)
_JSONB_VERSION = b"\x01"  # jsonb's binary form is a version byte, then the text


async def _init(conn: asyncpg.Connection) -> None:  # type: ignore[type-arg]
    """Binary codecs: a row value (the snapshot's arrays of rows) carries its fields in binary whatever the codec's
    format, so a text codec would be handed jsonb's version byte."""
    await conn.set_type_codec("json", schema="pg_catalog", encoder=orjson.dumps, decoder=orjson.loads, format="binary")
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=lambda v: _JSONB_VERSION + orjson.dumps(v),
        decoder=lambda data: orjson.loads(data[1:]),
        format="binary",
    )


def make_pool(database_url: str, size: int, plan_refresh_seconds: float = PLAN_REFRESH_SECONDS) -> asyncpg.Pool:  # type: ignore[type-arg]
    """Not yet initialised: ``await`` it once on the running loop. Connections open lazily (min_size 0), so a
    process starts while PostgreSQL is still coming up. Cached plans are dropped now and then (``PlanRefresh``)."""
    refresh = PlanRefresh(plan_refresh_seconds)

    async def refresh_plans(conn: Conn) -> None:
        if refresh.due(conn.state):
            await conn.execute("DISCARD PLANS")

    def reconnect_from_a_standby(query: asyncpg.connection.LoggedQuery) -> None:
        """A server that refuses writes (a primary demoted by a failover, still reached at the old address) would
        refuse every retry on the pooled connections: they are replaced as they are next released or acquired."""
        if query.exception is not None and sqlstate(query.exception) == READ_ONLY:
            expiring = asyncio.ensure_future(pool.expire_connections())
            _expiring.add(expiring)
            expiring.add_done_callback(_expiring.discard)

    async def init(conn: Conn) -> None:
        await _init(conn)
        conn.add_query_logger(reconnect_from_a_standby)

    pool: asyncpg.Pool = asyncpg.create_pool(  # type: ignore[type-arg]
        **connect_arguments(database_url),
        min_size=0,
        max_size=size,
        init=init,
        setup=refresh_plans,
        command_timeout=30,
        connection_class=_Connection,
    )
    return pool
