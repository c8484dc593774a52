"""a heartbeat that never beats pages

Monitoring started with a heartbeat's first beat, so a job whose heartbeat was wrong from the start (its URL, its
key) was never paged for. A timer pass now stores a heartbeat it sees configured with no row yet as ``armed`` with
no beat, and raises its alert once interval and grace pass: ``last_beat_at`` may be NULL.

Revision ID: 0021_heartbeat_never_beaten
Revises: 0020_unrouted_alerts_index
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_heartbeat_never_beaten"
down_revision: str | None = "0020_unrouted_alerts_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("router_heartbeat", "last_beat_at", existing_type=sa.DateTime(timezone=True), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM router_heartbeat WHERE last_beat_at IS NULL")  # never beaten: monitored again from scratch
    op.alter_column("router_heartbeat", "last_beat_at", existing_type=sa.DateTime(timezone=True), nullable=False)
