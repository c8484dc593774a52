"""actor columns wide enough for a prefixed id: "source:<integration>", "client:<name>", "schedule:<id>"

Ids are at most 128 characters, and these four columns held exactly 128, so a resolve or acknowledge from an
integration whose id is longer than 121 characters failed the incident's write (the event was dead-lettered and
the incident kept escalating), as did a maintenance window or drill started by a long-named machine client or
drill schedule. They now have the width the audit trail's actor already had. Raising a varchar's limit changes
the catalog only: PostgreSQL rewrites no row and takes the lock briefly. A type change resets the columns'
statistics target, so router_incident gets its small one (migration 0014) back.

Revision ID: 0015_wider_actor_columns
Revises: 0014_hot_table_statistics
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from alertrouter_shared.database import HOT_TABLE_STATISTICS_TARGET, statistics_target_sql

revision: str = "0015_wider_actor_columns"
down_revision: str | None = "0014_hot_table_statistics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WIDENED = (
    ("router_incident", "acknowledged_by", True),
    ("router_incident", "resolved_by", True),
    ("router_maintenance_window", "created_by", True),
    ("router_drill", "requested_by", False),
)


def upgrade() -> None:
    for table, column, nullable in WIDENED:
        op.alter_column(
            table, column, type_=sa.String(160), existing_type=sa.String(128), existing_nullable=nullable
        )
    op.execute(statistics_target_sql(("router_incident",), HOT_TABLE_STATISTICS_TARGET))


def downgrade() -> None:
    for table, column, nullable in WIDENED:
        op.alter_column(
            table, column, type_=sa.String(128), existing_type=sa.String(160), existing_nullable=nullable
        )
    op.execute(statistics_target_sql(("router_incident",), HOT_TABLE_STATISTICS_TARGET))
