"""shift reminders: one row per (person, schedule, shift start), inserted as the claim that sends the reminder once

Revision ID: 0012_shift_reminders
Revises: 0011_config_versions
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_shift_reminders"
down_revision: str | None = "0011_config_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "router_shift_reminder",
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("schedule_id", sa.String(128), nullable=False),
        sa.Column("shift_start", ts, nullable=False),
        sa.Column("shift_end", ts, nullable=False),
        sa.Column("remind_at", ts, nullable=False),
        sa.Column("override", sa.Boolean(), nullable=False),
        sa.Column("page_id", sa.String(200), nullable=False),
        sa.Column("claimed_at", ts, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "schedule_id", "shift_start", name=op.f("pk_router_shift_reminder")),
    )
    op.create_index("ix_router_shift_reminder_claimed_at", "router_shift_reminder", ["claimed_at"])


def downgrade() -> None:
    op.drop_index("ix_router_shift_reminder_claimed_at", table_name="router_shift_reminder")
    op.drop_table("router_shift_reminder")
