"""a shift-reminder row records that its person was told they are no longer on call for the shift

A reminder told a shift once, and nothing after: an override that later took the whole shift, or the removal of
the override that put someone on call, told nobody. The pass now tells them, once, and marks the row
(``stood_down_at``); it also moves ``shift_end`` to the end last told (an extension, or a cover that cuts the shift
short). Each pass reads the rows of shifts not yet over, by their end. Existing rows were never stood down.

Revision ID: 0025_shift_reminder_stood_down
Revises: 0024_alert_no_route_version
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_shift_reminder_stood_down"
down_revision: str | None = "0024_alert_no_route_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("router_shift_reminder", sa.Column("stood_down_at", sa.DateTime(timezone=True)))
    op.create_index("ix_router_shift_reminder_shift_end", "router_shift_reminder", ["shift_end"])


def downgrade() -> None:
    op.drop_index("ix_router_shift_reminder_shift_end", table_name="router_shift_reminder")
    op.drop_column("router_shift_reminder", "stood_down_at")
