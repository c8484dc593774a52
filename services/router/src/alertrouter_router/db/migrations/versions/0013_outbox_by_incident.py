"""outbox rows by incident: acknowledgements, resolutions, escalations and "not reached" read an incident's pages

Those reads (status updates to the people paged, unsent pages dropped on acknowledgement, the level-reached check
after a failed delivery) filtered the outbox by ``incident_id`` with no index for it: every one scanned the whole
outbox, which keeps every page ever sent.

Revision ID: 0013_outbox_by_incident
Revises: 0012_shift_reminders
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_outbox_by_incident"
down_revision: str | None = "0012_shift_reminders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_router_outbox_incident", "router_outbox", ["incident_id"])


def downgrade() -> None:
    op.drop_index("ix_router_outbox_incident", table_name="router_outbox")
