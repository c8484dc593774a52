"""The SQLAlchemy engine of the two services that keep a database (router, notifier): one set of choices.

- No pre-ping: with asyncpg it costs three round trips (BEGIN, a ping, ROLLBACK) on every checkout, most of
  the database work per alert at low rates. A connection PostgreSQL dropped fails its first statement instead;
  SQLAlchemy then invalidates the whole pool, and every caller already retries transient database errors
  (consumer batches, outcome writes, timer passes) or answers 503 (the APIs, ``web.errors``).
- JSON columns go through orjson rather than the standard library's json (decisions, pages and audit rows are
  JSON; the standard encoder and decoder were among the hottest frames of both services' profiles).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

POOL_RECYCLE_SECONDS = 3600


def make_engine(database_url: str, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=POOL_RECYCLE_SECONDS,
        json_serializer=_dumps,
        json_deserializer=orjson.loads,
    )


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
