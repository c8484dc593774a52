"""Each service's table definitions (read by its API through SQLAlchemy) match what its migrations build.

The migrations are what production runs; the table definitions are what the code and reviewers read. An index
added to one and not the other (or a column type that drifted) fails here, with Alembic's own comparison.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from alertrouter_notifier.database import alembic_config as notifier_alembic_config
from alertrouter_notifier.tables import metadata as notifier_metadata
from alertrouter_router.db.migrate import alembic_config as router_alembic_config
from alertrouter_router.db.tables import metadata as router_metadata
from alertrouter_shared.database import make_engine
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


@pytest.mark.parametrize("service", sorted(SCHEMAS))
async def test_table_definitions_match_the_migrated_schema(databases: DatabaseFactory, service: str) -> None:
    metadata, config = SCHEMAS[service]
    url = databases.create()
    await asyncio.to_thread(command.upgrade, config(url), "head")
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(_differences, metadata, f"{service}_")
    finally:
        await engine.dispose()
    assert differences == []
