"""a heartbeat remembers when its monitoring started

A heartbeat never beaten (or enabled again after a pause) counts from when monitoring started. Once its alert was
raised that instant was derived from ``silent_since`` minus the allowance configured now, so an interval a reload
lengthened (60 s was a mistake, the job runs daily) moved the start back by the difference and the heartbeat paged
"gone silent" again within the hour, with a "monitored since" before it was configured. ``armed_at`` keeps it.
Existing rows have none: they are read as before.

Revision ID: 0023_heartbeat_armed_at
Revises: 0022_alert_resolved_by_source
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_heartbeat_armed_at"
down_revision: str | None = "0022_alert_resolved_by_source"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("router_heartbeat", sa.Column("armed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE router_heartbeat SET armed_at = due_at WHERE state = 'armed'")


def downgrade() -> None:
    op.drop_column("router_heartbeat", "armed_at")
