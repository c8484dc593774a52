"""configuration versions: each version of the ownership configuration that came into force, who or what loaded
it, when, and its validated content (for diffs between two versions)

Revision ID: 0011_config_versions
Revises: 0010_scheduled_drills
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011_config_versions"
down_revision: str | None = "0010_scheduled_drills"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "router_config_version",
        sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("source_version", sa.String(64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("loaded_by", sa.String(160), nullable=False),
        sa.Column("token_id", sa.String(36), nullable=True),
        sa.Column("process", sa.String(160), nullable=False),
        sa.Column("files", postgresql.JSONB(), nullable=False),
        sa.Column("content", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_router_config_version")),
    )
    op.create_index("ix_router_config_version_version", "router_config_version", ["version"])


def downgrade() -> None:
    op.drop_index("ix_router_config_version_version", table_name="router_config_version")
    op.drop_table("router_config_version")
