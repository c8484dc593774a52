"""The router's and the notifier's ``migrate``, one runner: it waits for a database that is not there yet, and two
runs at once (a Helm hook beside a hand-run ``migrate``) both end at head, each revision applied once.

Alembic keeps its running environment in module globals, so runs at once are processes here, as they are in a
deployment; the waiting is checked in-process, one run at a time."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from asyncio.subprocess import PIPE, STDOUT
from pathlib import Path

import asyncpg
import pytest
import structlog
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from alertrouter_notifier.db import migrate as notifier_migrate
from alertrouter_router.db import migrate as router_migrate
from alertrouter_router.db.pool import connect_arguments
from alertrouter_shared.migrations import Migrations
from tests.helpers import DatabaseFactory, eventually, free_port

MIGRATIONS: dict[str, Migrations] = {"router": router_migrate.MIGRATIONS, "notifier": notifier_migrate.MIGRATIONS}
BIN = Path(sys.executable).parent
VERSION_TABLES = {"router": "alembic_version_router", "notifier": "alembic_version_notifier"}


def _head(service: str) -> str:
    config = MIGRATIONS[service].alembic_config("postgresql+asyncpg://unused/x")
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


async def _versions(url: str, *services: str) -> dict[str, list[str]]:
    conn = await asyncpg.connect(**connect_arguments(url))
    try:
        return {
            service: [r["version_num"] for r in await conn.fetch(f"SELECT version_num FROM {VERSION_TABLES[service]}")]
            for service in services
        }
    finally:
        await conn.close()


async def _migrate_command(service: str, url: str) -> tuple[int, str]:
    """The service's own ``migrate`` command, a process of its own as a Helm hook or compose runs it."""
    env = {**os.environ, "DATABASE_URL": url}
    process = await asyncio.create_subprocess_exec(
        str(BIN / f"alertrouter-{service}"), "migrate", env=env, stdout=PIPE, stderr=STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, output.decode()[-2000:]


async def test_both_services_migrating_twice_at_once_reach_head_once(databases: DatabaseFactory) -> None:
    url = databases.create()
    runs = [_migrate_command(service, url) for service in ("router", "notifier") for _ in range(2)]
    results = await asyncio.gather(*runs)  # without the advisory lock one of each pair fails: "... already exists"
    assert [code for code, _ in results] == [0, 0, 0, 0], [output for _, output in results]
    assert await _versions(url, "router", "notifier") == {"router": [_head("router")], "notifier": [_head("notifier")]}


@pytest.mark.parametrize("service", ["router", "notifier"])
async def test_migrate_waits_for_a_database_created_after_it_started(databases: DatabaseFactory, service: str) -> None:
    existing = databases.create()
    name = "t_late_" + uuid.uuid4().hex[:8]
    url = make_url(existing).set(database=name).render_as_string(hide_password=False)
    with structlog.testing.capture_logs() as logs:
        upgrade = asyncio.create_task(asyncio.to_thread(MIGRATIONS[service].upgrade_to_head, url, 30))

        async def refused_once() -> bool:
            return any(entry["event"] == "database_not_ready" for entry in logs)

        await eventually(refused_once, timeout=15, what=f"{service} migrate to find no database")
        assert not upgrade.done()
        admin = await asyncpg.connect(**connect_arguments(existing))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        await asyncio.wait_for(upgrade, timeout=30)
    assert await _versions(url, service) == {service: [_head(service)]}


@pytest.mark.parametrize("service", ["router", "notifier"])
def test_migrate_gives_up_saying_the_database_is_unreachable(service: str) -> None:
    url = f"postgresql+asyncpg://alertrouter@127.0.0.1:{free_port()}/alertrouter"
    with pytest.raises(RuntimeError, match="database not reachable after 1s"):
        MIGRATIONS[service].upgrade_to_head(url, 1.0)
