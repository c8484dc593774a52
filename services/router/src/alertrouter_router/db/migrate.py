"""Apply the router's Alembic migrations, waiting for the database first (it may start after us)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from alertrouter_shared.database import make_engine
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))  # configparser interpolation
    return config


async def _database_answers(database_url: str) -> bool:
    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception as exc:
        log.info("database_not_ready", error=type(exc).__name__)
        return False
    finally:
        await engine.dispose()


def wait_for_database(database_url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not asyncio.run(_database_answers(database_url)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"database not reachable after {timeout:.0f}s")
        time.sleep(1)


def upgrade_to_head(database_url: str, wait: float = 60.0) -> None:
    """Blocking: run from the CLI or from a thread, never inside a running event loop."""
    wait_for_database(database_url, wait)
    command.upgrade(alembic_config(database_url), "head")
    log.info("migrations_applied", target="head")
