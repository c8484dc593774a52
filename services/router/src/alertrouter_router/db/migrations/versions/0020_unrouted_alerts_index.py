"""alerts no rule routed, found at once after a configuration change

A firing alert that no route rule matched was routed again only at its next trigger: after a reload that fixed the
routing, an Alertmanager alert waited for its repeat (hours by default) and a CloudWatch alarm, sent once per state
change, never paged. Every router process now marks those alerts due for a recheck when it keeps a configuration it
loaded (``config_watch.keep_loaded``). router_alert keeps every alert ever seen, so the partial index below holds
only the unrouted ones (status and suppressed_by change together, so the repeats of a firing alert stay HOT
updates).

Revision ID: 0020_unrouted_alerts_index
Revises: 0019_drill_time_limit
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_unrouted_alerts_index"
down_revision: str | None = "0019_drill_time_limit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_router_alert_unrouted",
        "router_alert",
        ["suppressed_by"],
        postgresql_where=sa.text("status = 'suppressed' AND suppressed_by = 'no_route'"),
    )


def downgrade() -> None:
    op.drop_index("ix_router_alert_unrouted", table_name="router_alert")
