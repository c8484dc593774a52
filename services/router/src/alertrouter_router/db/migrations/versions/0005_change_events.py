"""change events recorded per service (PagerDuty change events, shown in incident timelines)

Revision ID: 0005_change_events
Revises: 0004_alerts_and_incidents
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_change_events"
down_revision: str | None = "0004_alerts_and_incidents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "router_change_event",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("service_id", sa.String(length=128), nullable=False),
        sa.Column("integration_id", sa.String(length=128), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("links", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("custom_details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_router_change_event")),
    )
    op.create_index(
        "ix_router_change_event_service_occurred", "router_change_event", ["service_id", "occurred_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_router_change_event_service_occurred", table_name="router_change_event")
    op.drop_table("router_change_event")
