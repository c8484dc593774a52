"""deliveries and attempts analyzed on a small sample: autoanalyze was a CPU burst on the page path

Every page writes a delivery row (and updates it) and an attempt row. While the tables are small and growing,
autovacuum re-analyzes them every minute, each ANALYZE sampling 30,000 rows at the default statistics target; with
the router's tables that was a one-second stall of every page in flight at 500 alerts/s. Their queries are index
lookups by id, incident, destination and state: 3,000 rows plan them the same.

Revision ID: 0003_notifier_statistics
Revises: 0002_notifier_answers
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

from alertrouter_shared.database import HOT_TABLE_STATISTICS_TARGET, statistics_target_sql

revision = "0003_notifier_statistics"
down_revision = "0002_notifier_answers"
branch_labels = None
depends_on = None

HOT_TABLES = ("notifier_delivery", "notifier_attempt")


def upgrade() -> None:
    op.execute(statistics_target_sql(HOT_TABLES, HOT_TABLE_STATISTICS_TARGET))


def downgrade() -> None:
    op.execute(statistics_target_sql(HOT_TABLES, -1))
