"""notifier: index deliveries by destination hash and time, for finding the pages an SMS reply answers

Revision ID: 0002_notifier_answers
Revises: 0001_notifier
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0002_notifier_answers"
down_revision = "0001_notifier"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_notifier_delivery_destination", "notifier_delivery", ["throttle_key", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_notifier_delivery_destination", table_name="notifier_delivery")
