"""on-call report: published pages are read by when they were due (``GET /v1/reports/oncall``)

The outbox had only a partial index on unpublished rows (the publisher's); the report reads a window of
published ones by ``send_at``.

Revision ID: 0009_oncall_report
Revises: 0008_identity_and_audit
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_oncall_report"
down_revision: str | None = "0008_identity_and_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_router_outbox_send_at", "router_outbox", ["send_at"])


def downgrade() -> None:
    op.drop_index("ix_router_outbox_send_at", table_name="router_outbox")
