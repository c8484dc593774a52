"""Each service's table definitions (read by its API through SQLAlchemy) match what its migrations build.

The migrations are what production runs; the table definitions are what the code and reviewers read. An index
added to one and not the other (or a column type that drifted) fails here, with Alembic's own comparison.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_notifier.db.migrate import alembic_config as notifier_alembic_config
from alertrouter_notifier.db.tables import metadata as notifier_metadata
from alertrouter_router.db.migrate import alembic_config as router_alembic_config
from alertrouter_router.db.tables import metadata as router_metadata
from alertrouter_shared.database import HOT_TABLE_STATISTICS_TARGET, make_engine
from tests.helpers import DatabaseFactory

SCHEMAS = {
    "router": (router_metadata, router_alembic_config),
    "notifier": (notifier_metadata, notifier_alembic_config),
}


def _differences(conn: Connection, metadata: MetaData, prefix: str) -> list[Any]:
    def ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
        return bool(table) and str(table).startswith(prefix)

    context = MigrationContext.configure(conn, opts={"include_object": ours})
    return list(compare_metadata(context, metadata))


@contextlib.asynccontextmanager
async def _migrated(databases: DatabaseFactory, service: str) -> AsyncIterator[tuple[AsyncEngine, Config]]:
    """A new database with the service's migrations at head, and an engine on it."""
    url = databases.create()
    config = SCHEMAS[service][1](url)
    await asyncio.to_thread(command.upgrade, config, "head")
    engine = make_engine(url)
    try:
        yield engine, config
    finally:
        await engine.dispose()


@pytest.mark.parametrize("service", sorted(SCHEMAS))
async def test_table_definitions_match_the_migrated_schema(databases: DatabaseFactory, service: str) -> None:
    metadata, _ = SCHEMAS[service]
    async with _migrated(databases, service) as (engine, _), engine.connect() as conn:
        differences = await conn.run_sync(_differences, metadata, f"{service}_")
    assert differences == []


HOT_TABLES = {
    "router": {"router_alert", "router_incident", "router_decision", "router_outbox", "router_timeline"},
    "notifier": {"notifier_delivery", "notifier_attempt"},
}
# The migration that gave them the small target: downgrading below it restores the default.
STATISTICS_MIGRATION = {"router": "0014_hot_table_statistics", "notifier": "0003_notifier_statistics"}


def _statistics_targets(conn: Connection, prefix: str) -> dict[str, set[int | None]]:
    """Per table of the service, the statistics targets of its columns (None, or -1 before PostgreSQL 17: default)."""
    rows = conn.execute(
        text(
            "SELECT c.relname, a.attstattarget FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.relkind = 'r' AND c.relname LIKE :prefix AND a.attnum > 0 AND NOT a.attisdropped"
        ),
        {"prefix": f"{prefix}%"},
    )
    targets: dict[str, set[int | None]] = {}
    for table, target in rows:
        targets.setdefault(table, set()).add(None if target == -1 else target)
    return targets


@pytest.mark.parametrize("service", sorted(SCHEMAS))
async def test_tables_written_for_every_alert_are_analyzed_on_a_small_sample(
    databases: DatabaseFactory, service: str
) -> None:
    """Every column of the hot tables, and only those, gets the small statistics target (autoanalyze bursts)."""
    async with _migrated(databases, service) as (engine, config):
        async with engine.connect() as conn:
            targets = await conn.run_sync(_statistics_targets, f"{service}_")
        await asyncio.to_thread(command.downgrade, config, f"{STATISTICS_MIGRATION[service]}-1")
        async with engine.connect() as conn:
            downgraded = await conn.run_sync(_statistics_targets, f"{service}_")
    assert {table for table, found in targets.items() if found == {HOT_TABLE_STATISTICS_TARGET}} == HOT_TABLES[service]
    assert all(found == {None} for table, found in targets.items() if table not in HOT_TABLES[service])
    assert all(found == {None} for found in downgraded.values())
