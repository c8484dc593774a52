"""page ids wide enough for the longest user and contact-method ids

A page id names the incident, the position, the user and the contact method (ids of up to 128 characters each),
so a status notice for a user and method with long ids was longer than the 200 characters of
``router_outbox.page_id``: the write failed for a reason that is not transient, so the acknowledgement answered
500, a source's resolve was dead-lettered, and the step timer failed every pass on that incident's step, holding
up every other escalation. They now hold MAX_PAGE_ID_CHARS (512), the event contract's limit. Raising a varchar's
limit changes the catalog only; a type change resets the statistics target, so router_outbox gets its small one
(migration 0014) back.

Revision ID: 0018_wider_page_ids
Revises: 0017_incident_step_round
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from alertrouter_shared.database import HOT_TABLE_STATISTICS_TARGET, statistics_target_sql

revision: str = "0018_wider_page_ids"
down_revision: str | None = "0017_incident_step_round"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WIDENED = ("router_outbox", "router_shift_reminder")


def upgrade() -> None:
    for table in WIDENED:
        op.alter_column(table, "page_id", type_=sa.String(512), existing_type=sa.String(200), existing_nullable=False)
    op.execute(statistics_target_sql(("router_outbox",), HOT_TABLE_STATISTICS_TARGET))


def downgrade() -> None:
    for table in WIDENED:
        op.alter_column(table, "page_id", type_=sa.String(200), existing_type=sa.String(512), existing_nullable=False)
    op.execute(statistics_target_sql(("router_outbox",), HOT_TABLE_STATISTICS_TARGET))
