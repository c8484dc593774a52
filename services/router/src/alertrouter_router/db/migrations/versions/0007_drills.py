"""drills: incidents and alerts marked drill, and one row per drill run

Revision ID: 0007_drills
Revises: 0006_heartbeats
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_drills"
down_revision: str | None = "0006_heartbeats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    false = sa.text("false")
    op.add_column("router_incident", sa.Column("drill", sa.Boolean(), nullable=False, server_default=false))
    op.add_column("router_alert", sa.Column("drill", sa.Boolean(), nullable=False, server_default=false))
    op.create_table(
        "router_drill",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("service_id", sa.String(128), nullable=False),
        sa.Column("silent", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=True),
        sa.Column("dedup_key", sa.String(512), nullable=True),
        sa.Column("checks", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_router_drill")),
    )
    op.create_index("ix_router_drill_service_started", "router_drill", ["service_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_router_drill_service_started", table_name="router_drill")
    op.drop_table("router_drill")
    op.drop_column("router_alert", "drill")
    op.drop_column("router_incident", "drill")
