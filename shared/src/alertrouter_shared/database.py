"""The SQLAlchemy engine of the two services that keep a database (router, notifier): one set of choices.

- No pre-ping: with asyncpg it costs three round trips (BEGIN, a ping, ROLLBACK) on every checkout, most of
  the database work per alert at low rates. A connection PostgreSQL dropped is replaced at its next plan
  refresh (below, at most ``PLAN_REFRESH_SECONDS`` after its last); otherwise it fails its first statement, and
  SQLAlchemy then invalidates the whole pool, and every caller already retries transient database errors
  (consumer batches, outcome writes, timer passes) or answers 503 (the APIs, ``web.errors``).
- JSON columns go through orjson rather than the standard library's json (decisions, pages and audit rows are
  JSON; the standard encoder and decoder were among the hottest frames of both services' profiles).
- Cached query plans are dropped every ``PLAN_REFRESH_SECONDS`` (``PlanRefresh``): see there.
"""

from __future__ import annotations

import re
import time
from collections.abc import MutableMapping, Sequence
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from alertrouter_shared.db_errors import READ_ONLY, is_transient, sqlstate

POOL_RECYCLE_SECONDS = 3600
PLAN_REFRESH_SECONDS = 10.0
_PLANS_SINCE = "alertrouter_plans_since"


class PlanRefresh:
    """When each pooled connection should next drop its cached query plans (``DISCARD PLANS``).

    Both drivers prepare every statement once per connection, and after five executions PostgreSQL may keep one
    generic plan for it until the connection closes. A plan made while a table was new and empty (a fresh
    install, every benchmark run) assumes a table of ten pages and can scan it sequentially: measured on the
    benchmark, the router's batch snapshot and the notifier's outcome write kept sequential scans of the alert,
    incident, decision and attempt tables for the whole run (3,163 scans reading 24.5 million rows of
    ``notifier_attempt`` in 60 s at 250 alerts/s; snapshots of up to 11 ms against 0.06 ms on average with fresh
    plans), and nothing else replaces such a plan: PostgreSQL 15 keeps it across autovacuum's ANALYZE.
    ``DISCARD PLANS`` keeps the prepared statements and plans each again on its next use, from the tables as they
    are: one round trip per connection every ``interval`` seconds, on checkout.
    """

    def __init__(self, interval: float = PLAN_REFRESH_SECONDS) -> None:
        self.interval = interval

    def due(self, connection_state: MutableMapping[str, Any]) -> bool:
        """``connection_state``: a mapping that lives and dies with the connection (its first checkout counts as a
        refresh: a new connection has no plans yet)."""
        now = time.monotonic()
        since = connection_state.setdefault(_PLANS_SINCE, now)
        if now - since < self.interval:
            return False
        connection_state[_PLANS_SINCE] = now
        return True


def make_engine(
    database_url: str, pool_size: int = 10, plan_refresh_seconds: float = PLAN_REFRESH_SECONDS
) -> AsyncEngine:
    """At most ``engine_connections(pool_size)`` connections: ``pool_size`` kept open once used, as many again
    opened for a burst and closed when returned (docs/deployment.md counts them)."""
    engine = create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=engine_overflow(pool_size),
        pool_recycle=POOL_RECYCLE_SECONDS,
        json_serializer=_dumps,
        json_deserializer=orjson.loads,
        # A failed statement's message is logged (batch_retry, claim_failed...): with its parameters it carried
        # whole pages, contact addresses included.
        hide_parameters=True,
    )
    refresh = PlanRefresh(plan_refresh_seconds)

    @event.listens_for(engine.sync_engine, "checkout")
    def _refresh_plans(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        """The refresh doubles as a ping: a connection PostgreSQL dropped (a restart, a failover, an idle
        timeout) is replaced here, where the pool may still take another, rather than failing its caller and then,
        returned to the pool, the next caller too."""
        if refresh.due(record.info):
            try:
                dbapi_connection.run_async(lambda conn: conn.execute("DISCARD PLANS"))
            except Exception as exc:
                if not is_transient(exc):
                    raise
                raise DisconnectionError(f"pooled connection lost: {type(exc).__name__}") from exc

    @event.listens_for(engine.sync_engine, "handle_error")
    def _reconnect_from_a_standby(context: Any) -> None:
        """A server that refuses writes (a primary demoted by a failover, still reached at the old address) would
        refuse every retry on the pooled connections: they are dropped, and the retries connect anew."""
        if sqlstate(context.original_exception) == READ_ONLY:
            context.is_disconnect = True

    return engine


def engine_overflow(pool_size: int) -> int:
    """Connections an engine opens beyond ``pool_size`` while every pooled one is in use."""
    return pool_size


def engine_connections(pool_size: int) -> int:
    """The most PostgreSQL connections one engine of ``make_engine(url, pool_size)`` holds at once."""
    return pool_size + engine_overflow(pool_size)


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# The statistics target of the tables written for every alert or page (migrations set it; see docs/deployment.md).
HOT_TABLE_STATISTICS_TARGET = 10
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


def statistics_target_sql(tables: Sequence[str], target: int) -> str:
    """SQL setting every column of ``tables`` to ``target`` (-1: the server's default_statistics_target).

    ANALYZE samples 300 rows per unit of target: at the default 100, the autoanalyze of the tables written for
    every alert took 1.3 s at once every minute while they were small and growing (a storm on a fresh install),
    stalling the page path for about a second on the 2-core benchmark machine (0.14 s at 10). Their queries are
    index lookups by key, id and state; a histogram of 10 buckets plans them the same.
    """
    if not all(_IDENTIFIER.fullmatch(table) for table in tables):
        raise ValueError(f"not plain table names: {list(tables)}")
    names = ", ".join(f"'{table}'" for table in tables)
    # Plain identifiers, checked above: a DO block takes no parameters.
    return f"""
DO $$
DECLARE col record;
BEGIN
    FOR col IN
        SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        WHERE c.relname IN ({names}) AND c.relnamespace = current_schema()::regnamespace
          AND a.attnum > 0 AND NOT a.attisdropped
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET STATISTICS {int(target)}', col.relname, col.attname);
    END LOOP;
END $$
"""  # noqa: S608
