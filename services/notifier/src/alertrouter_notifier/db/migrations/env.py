"""Alembic environment of the notifier's own tables, with its own version table.

The router's migrations may share the database, so the notifier records its revision in
``alembic_version_notifier`` and only ever touches ``notifier_*`` tables.
"""

from __future__ import annotations

from alertrouter_notifier.db.tables import metadata
from alertrouter_shared.migrations import run_environment

VERSION_TABLE = "alembic_version_notifier"

run_environment(
    metadata,
    VERSION_TABLE,
    include_name=lambda name, type_, _parent: type_ != "table" or bool(name and name.startswith("notifier_")),
)
