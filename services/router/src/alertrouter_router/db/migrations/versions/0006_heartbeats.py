"""heartbeats: when each heartbeat integration last beat and when the next beat is due

Revision ID: 0006_heartbeats
Revises: 0005_change_events
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_heartbeats"
down_revision: str | None = "0005_change_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "router_heartbeat",
        sa.Column("integration_id", sa.String(128), nullable=False),
        sa.Column("service_id", sa.String(128), nullable=True),
        sa.Column("last_beat_at", ts, nullable=False),
        sa.Column("due_at", ts, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("silent_since", ts, nullable=True),
        sa.PrimaryKeyConstraint("integration_id", name=op.f("pk_router_heartbeat")),
    )
    op.create_index("ix_router_heartbeat_due", "router_heartbeat", ["due_at"], postgresql_where=sa.text("state = 'ok'"))


def downgrade() -> None:
    op.drop_index("ix_router_heartbeat_due", table_name="router_heartbeat")
    op.drop_table("router_heartbeat")
