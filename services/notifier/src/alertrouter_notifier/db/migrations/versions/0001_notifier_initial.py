"""notifier tables: deliveries (idempotency + retry queue), attempts (results + outbox), throttle windows

Revision ID: 0001_notifier
Revises:
Create Date: 2025-06-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_notifier"
down_revision = None
branch_labels = ("notifier",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifier_delivery",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False, unique=True),
        sa.Column("page_id", sa.String(255), nullable=False),
        sa.Column("contact_method_id", sa.String(255), nullable=False),
        sa.Column("incident_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("destination_masked", sa.String(255), nullable=False),
        sa.Column("throttle_key", sa.String(64), nullable=False),
        sa.Column("page", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("provider_slot", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failover_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider", sa.String(64)),
        sa.Column("provider_message_id", sa.String(255)),
        sa.Column("provider_status_code", sa.String(64)),
        sa.Column("last_error", sa.Text()),
        sa.Column("digest_count", sa.Integer()),
        sa.Column("digest_delivery_id", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("page_id", "contact_method_id", name="uq_notifier_delivery_page_contact"),
    )
    op.create_index("ix_notifier_delivery_due", "notifier_delivery", ["status", "next_attempt_at"])
    op.create_index("ix_notifier_delivery_incident", "notifier_delivery", ["incident_id", "seq"])
    op.create_index("ix_notifier_delivery_provider_message", "notifier_delivery", ["provider_message_id"])

    op.create_table(
        "notifier_attempt",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column(
            "delivery_id",
            sa.String(64),
            sa.ForeignKey("notifier_delivery.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False, server_default=""),
        sa.Column("provider_message_id", sa.String(255)),
        sa.Column("provider_status_code", sa.String(64)),
        sa.Column("error", sa.Text()),
        sa.Column("latency_ms", sa.Float()),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_notifier_attempt_delivery", "notifier_attempt", ["delivery_id", "id"])
    op.create_index(
        "ix_notifier_attempt_unpublished",
        "notifier_attempt",
        ["published_at", "id"],
        postgresql_where=sa.text("published_at IS NULL"),
    )

    op.create_table(
        "notifier_throttle",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_in_window", sa.Integer(), nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("digest_due_at", sa.DateTime(timezone=True)),
        sa.Column("last_page", postgresql.JSONB()),
        sa.Column("services", postgresql.JSONB(), nullable=False, server_default="[]"),
    )
    op.create_index("ix_notifier_throttle_digest_due", "notifier_throttle", ["digest_due_at"])


def downgrade() -> None:
    op.drop_table("notifier_throttle")
    op.drop_table("notifier_attempt")
    op.drop_table("notifier_delivery")
