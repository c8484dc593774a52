"""Apply the notifier's Alembic migrations: wait for the database, then upgrade under the notifier's advisory lock."""

from __future__ import annotations

from pathlib import Path

from alertrouter_shared.migrations import Migrations

MIGRATIONS = Migrations(Path(__file__).parent / "migrations", lock_id=0x6E6F7469)  # "noti"
alembic_config = MIGRATIONS.alembic_config
upgrade_to_head = MIGRATIONS.upgrade_to_head
