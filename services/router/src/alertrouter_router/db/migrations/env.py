"""Alembic environment of the router's tables, with its own version table (the notifier may share the database)."""

from __future__ import annotations

from alertrouter_router.db.tables import metadata
from alertrouter_shared.migrations import run_environment

VERSION_TABLE = "alembic_version_router"

run_environment(metadata, VERSION_TABLE)
