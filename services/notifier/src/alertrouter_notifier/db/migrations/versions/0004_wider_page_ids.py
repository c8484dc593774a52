"""delivery page ids as wide as the event contract allows (MAX_PAGE_ID_CHARS, 512)

A page id longer than the 255 characters of ``notifier_delivery.page_id`` (a status notice for a user and contact
method with long ids) failed the admission INSERT for a reason that is not transient: the batch was retried
forever and every page after it on that partition waited. A type change resets the statistics target, so
notifier_delivery gets its small one (migration 0003) back.

Revision ID: 0004_wider_page_ids
Revises: 0003_notifier_statistics
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from alertrouter_shared.database import HOT_TABLE_STATISTICS_TARGET, statistics_target_sql

revision = "0004_wider_page_ids"
down_revision = "0003_notifier_statistics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column(
        "notifier_delivery", "page_id", type_=sa.String(512), existing_type=sa.String(255), existing_nullable=False
    )
    op.execute(statistics_target_sql(("notifier_delivery",), HOT_TABLE_STATISTICS_TARGET))


def downgrade() -> None:
    op.alter_column(
        "notifier_delivery", "page_id", type_=sa.String(255), existing_type=sa.String(512), existing_nullable=False
    )
    op.execute(statistics_target_sql(("notifier_delivery",), HOT_TABLE_STATISTICS_TARGET))
