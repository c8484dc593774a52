"""tables written for every alert analyzed on a small sample: autoanalyze was a CPU burst on the page path

Each alert writes alert, incident, decision, outbox and timeline rows. While these tables are small and growing
(a fresh install, a storm) autovacuum re-analyzes all of them every minute; at the default statistics target each
ANALYZE samples 30,000 rows, 0.85 s for the five at once, measured as a one-second stall of every page in flight
at 500 alerts/s. Their queries are index lookups by key, id and state: 3,000 rows plan them the same.

Revision ID: 0014_hot_table_statistics
Revises: 0013_outbox_by_incident
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

from alertrouter_shared.database import HOT_TABLE_STATISTICS_TARGET, statistics_target_sql

revision: str = "0014_hot_table_statistics"
down_revision: str | None = "0013_outbox_by_incident"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOT_TABLES = ("router_alert", "router_incident", "router_decision", "router_outbox", "router_timeline")


def upgrade() -> None:
    op.execute(statistics_target_sql(HOT_TABLES, HOT_TABLE_STATISTICS_TARGET))


def downgrade() -> None:
    op.execute(statistics_target_sql(HOT_TABLES, -1))
