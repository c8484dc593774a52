"""an unrouted alert remembers the configuration version that found no route for it

After a reload every process marks the unrouted alerts due for another look, and any replica's timer pass may take
that look. A replica still refusing the new files (a Secret missing on one pod) took its share, found no route
under the version it kept, and cleared the look: the alert waited for its next trigger (hours for Alertmanager,
never for CloudWatch) although the configuration in force elsewhere routed it. A process now leaves alone the
alerts its own version already found unrouted. Existing rows have no version: any process looks at them, as before.

Revision ID: 0024_alert_no_route_version
Revises: 0023_heartbeat_armed_at
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from alertrouter_shared.database import HOT_TABLE_STATISTICS_TARGET, statistics_target_sql

revision: str = "0024_alert_no_route_version"
down_revision: str | None = "0023_heartbeat_armed_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("router_alert", sa.Column("no_route_version", sa.String(64)))
    op.execute(statistics_target_sql(("router_alert",), HOT_TABLE_STATISTICS_TARGET))


def downgrade() -> None:
    op.drop_column("router_alert", "no_route_version")
