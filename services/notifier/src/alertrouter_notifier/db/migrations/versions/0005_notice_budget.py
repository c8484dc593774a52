"""flood windows per destination and budget: triggers and status notices no longer share one budget

The resolved notices of a storm that just ended used up a destination's budget (SMS: 3 a minute), and the next
incident's trigger was held back, to go out only as a digest without an acknowledge link. A destination now has a
window per budget (``pages``: triggers; ``notices``: acknowledged, resolved, escalated, shift reminders). Windows
open at the upgrade keep their counts as the ``pages`` budget, so a notice held in one at that moment is counted
by that window's digest.

Revision ID: 0005_notice_budget
Revises: 0004_wider_page_ids
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_notice_budget"
down_revision = "0004_wider_page_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notifier_throttle", sa.Column("budget", sa.String(10), nullable=False, server_default="pages"))
    op.drop_constraint("notifier_throttle_pkey", "notifier_throttle", type_="primary")
    op.create_primary_key("notifier_throttle_pkey", "notifier_throttle", ["key", "budget"])


def downgrade() -> None:
    op.execute("DELETE FROM notifier_throttle WHERE budget <> 'pages'")
    op.drop_constraint("notifier_throttle_pkey", "notifier_throttle", type_="primary")
    op.create_primary_key("notifier_throttle_pkey", "notifier_throttle", ["key"])
    op.drop_column("notifier_throttle", "budget")
