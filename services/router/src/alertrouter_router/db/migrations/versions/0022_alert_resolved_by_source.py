"""an alert remembers that its source resolved it

Alertmanager resolves an alert Prometheus stopped sending for a while and, once Prometheus sends it again with the
same start, notifies it firing again: a live alert, which the router now pages when the source itself had resolved
the episode, and not after a person's resolve (whose repeats stay ignored). Who resolved it was read from the
incident's ``resolved_by``, which misses an alert the source resolved in an incident a person closed later, or
after a person had. Existing rows get what that rule said. The column gets the hot tables' small statistics target
(migration 0014), as every column of router_alert has.

Revision ID: 0022_alert_resolved_by_source
Revises: 0021_heartbeat_never_beaten
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from alertrouter_shared.database import HOT_TABLE_STATISTICS_TARGET, statistics_target_sql

revision: str = "0022_alert_resolved_by_source"
down_revision: str | None = "0021_heartbeat_never_beaten"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "router_alert",
        sa.Column("resolved_by_source", sa.Boolean(), nullable=False, server_default=sa.text("false")),
    )
    op.execute(
        "UPDATE router_alert AS a SET resolved_by_source = true WHERE a.status = 'resolved' AND (a.incident_id IS NULL "
        "OR EXISTS (SELECT 1 FROM router_incident AS i WHERE i.id = a.incident_id "
        "AND (i.status <> 'resolved' OR i.resolved_by LIKE 'source:%')))"
    )
    op.execute(statistics_target_sql(("router_alert",), HOT_TABLE_STATISTICS_TARGET))


def downgrade() -> None:
    op.drop_column("router_alert", "resolved_by_source")
