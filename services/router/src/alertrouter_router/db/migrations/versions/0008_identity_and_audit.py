"""identity and audit: API tokens of people and machine clients (hashed), the audit trail of every write, and
calendar feeds with a revocable secret in their URL, and schedule overrides made through the API

Revision ID: 0008_identity_and_audit
Revises: 0007_drills
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_identity_and_audit"
down_revision: str | None = "0007_drills"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "router_api_token",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=True),
        sa.Column("client", sa.String(128), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("act_as", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sa.String(160), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("expires_at", ts, nullable=True),
        sa.Column("last_used_at", ts, nullable=True),
        sa.Column("revoked_at", ts, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_router_api_token")),
        sa.UniqueConstraint("digest", name=op.f("uq_router_api_token_digest")),
    )
    op.create_table(
        "router_audit",
        sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("at", ts, nullable=False),
        sa.Column("actor", sa.String(160), nullable=False),
        sa.Column("token_id", sa.String(36), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(512), nullable=False),
        sa.Column("team_id", sa.String(128), nullable=True),
        sa.Column("before", postgresql.JSONB(), nullable=True),
        sa.Column("after", postgresql.JSONB(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_router_audit")),
    )
    op.create_index("ix_router_audit_target", "router_audit", ["target_type", "target_id"])
    op.create_index("ix_router_audit_actor", "router_audit", ["actor"])
    op.create_table(
        "router_calendar_feed",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(128), nullable=False),
        sa.Column("created_by", sa.String(160), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("revoked_at", ts, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_router_calendar_feed")),
        sa.UniqueConstraint("digest", name=op.f("uq_router_calendar_feed_digest")),
    )
    op.create_table(
        "router_schedule_override",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("schedule_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("starts_at", ts, nullable=False),
        sa.Column("ends_at", ts, nullable=False),
        sa.Column("replaces", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sa.String(160), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("deleted_at", ts, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_router_schedule_override")),
    )
    op.create_index(
        "ix_router_schedule_override_active",
        "router_schedule_override",
        ["ends_at"],
        postgresql_where=sa.text("deleted_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_router_schedule_override_active", table_name="router_schedule_override")
    op.drop_table("router_schedule_override")
    op.drop_table("router_calendar_feed")
    op.drop_index("ix_router_audit_actor", table_name="router_audit")
    op.drop_index("ix_router_audit_target", table_name="router_audit")
    op.drop_table("router_audit")
    op.drop_table("router_api_token")
