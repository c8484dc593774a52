"""scheduled drills: one row per run of a configured drill schedule (the claim), and the run it started

Revision ID: 0010_scheduled_drills
Revises: 0009_oncall_report
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_scheduled_drills"
down_revision: str | None = "0009_oncall_report"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "router_scheduled_drill",
        sa.Column("service_id", sa.String(128), nullable=False),
        sa.Column("schedule_id", sa.String(128), nullable=False),
        sa.Column("scheduled_at", ts, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("drill_id", sa.String(36), nullable=True),
        sa.Column("claimed_at", ts, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("service_id", "schedule_id", "scheduled_at", name=op.f("pk_router_scheduled_drill")),
    )
    op.add_column("router_drill", sa.Column("schedule_id", sa.String(128), nullable=True))
    op.add_column("router_drill", sa.Column("scheduled_at", ts, nullable=True))


def downgrade() -> None:
    op.drop_column("router_drill", "scheduled_at")
    op.drop_column("router_drill", "schedule_id")
    op.drop_table("router_scheduled_drill")
