"""Schema upgrades of the two services that keep tables (router, notifier), done one way for both.

``migrate`` waits for the database (in compose and Kubernetes it may start after us), then runs Alembic to head
on one connection holding a transaction-scoped advisory lock: two runs at once (a Helm hook and a hand-run
``migrate``, two replicas started together) apply each revision once, the second finding the schema at head.
Each service's Alembic ``env.py`` is ``run_environment`` with its tables and its own version table, so the two
sets of migrations share a database without touching each other's revisions.

Like ``alertrouter_shared.database``, only the services that keep a database import this (with their alembic).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_shared.database import make_engine
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)

IncludeName = Callable[[str | None, str, Any], bool]


@dataclass(frozen=True)
class Migrations:
    """One service's migrations: where its Alembic scripts are, and the advisory lock its runs take."""

    script_location: Path
    lock_id: int

    def alembic_config(self, database_url: str) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.script_location))
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))  # configparser interpolation
        return config

    def upgrade_to_head(self, database_url: str, wait: float = 60.0) -> None:
        """Blocking: run from the command line or a thread, never inside a running event loop."""
        asyncio.run(_upgrade(self.alembic_config(database_url), database_url, self.lock_id, wait))
        log.info("migrations_applied", target="head")


async def _upgrade(config: Config, database_url: str, lock_id: int, wait: float) -> None:
    engine = make_engine(database_url, pool_size=1)
    try:
        await _wait_for_database(engine, wait)
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
            await conn.run_sync(_upgrade_on, config)
    finally:
        await engine.dispose()


async def _wait_for_database(engine: AsyncEngine, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return
        except Exception as exc:  # refused, not resolvable, starting up, database not created yet: all the same here
            if time.monotonic() > deadline:
                raise RuntimeError(f"database not reachable after {wait:.0f}s ({type(exc).__name__})") from exc
            log.info("database_not_ready", error=type(exc).__name__)
        await asyncio.sleep(1.0)


def _upgrade_on(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def run_environment(metadata: MetaData, version_table: str, include_name: IncludeName | None = None) -> None:
    """The body of a service's Alembic ``env.py``: on the connection ``upgrade_to_head`` holds (under its lock), or
    on a connection of its own when Alembic is driven directly (tests, ``alembic`` commands), or offline as SQL."""
    options: dict[str, Any] = {"target_metadata": metadata, "version_table": version_table}
    if include_name is not None:
        options["include_name"] = include_name
    if context.is_offline_mode():
        context.configure(url=context.config.get_main_option("sqlalchemy.url"), literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection, options)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("sqlalchemy.url is not set: the migrate command passes DATABASE_URL")
    asyncio.run(_run_with_own_engine(url, options))


def _run(connection: Connection, options: dict[str, Any]) -> None:
    context.configure(connection=connection, **options)
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine(url: str, options: dict[str, Any]) -> None:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run, options)
    finally:
        await engine.dispose()
