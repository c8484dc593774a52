"""Apply the router's Alembic migrations: wait for the database, then upgrade under the router's advisory lock."""

from __future__ import annotations

from pathlib import Path

from alertrouter_shared.migrations import Migrations

MIGRATIONS = Migrations(Path(__file__).parent / "migrations", lock_id=0x726F7574)  # "rout"
alembic_config = MIGRATIONS.alembic_config
upgrade_to_head = MIGRATIONS.upgrade_to_head
