"""indexes to find digests that did not reach their person, and the pages each held back

A page held by flood protection reaches its person through the digest that stands for it. When that digest fails
(failed, undelivered, expired), each page it held now gets the same outcome, so the router escalates a level that
reached nobody at once instead of waiting out its delay. Both indexes are partial: they hold only failed digests
and held pages, so the hot path of every other delivery writes no more.

Revision ID: 0006_held_page_outcomes
Revises: 0005_notice_budget
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_held_page_outcomes"
down_revision = "0005_notice_budget"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_notifier_delivery_held",
        "notifier_delivery",
        ["digest_delivery_id"],
        postgresql_where=sa.text("digest_delivery_id IS NOT NULL"),
    )
    op.create_index(
        "ix_notifier_delivery_digest_unreached",
        "notifier_delivery",
        ["updated_at"],
        postgresql_where=sa.text("kind = 'digest' AND status IN ('failed', 'undelivered', 'expired')"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifier_delivery_digest_unreached", table_name="notifier_delivery")
    op.drop_index("ix_notifier_delivery_held", table_name="notifier_delivery")
