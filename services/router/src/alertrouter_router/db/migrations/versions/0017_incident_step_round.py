"""incidents remember the highest round an escalation step was scheduled at

A retry after nobody was reachable schedules a step a round past the last one paged, so a later escalation cycle
(an acknowledgement timeout, a snooze running out, escalate now, a reassignment), numbered from the last round
paged, landed on that step's position: the step table's unique key dropped the new step and escalation stopped
for good. New cycles now start after ``step_round``; open incidents get it from the steps they already have.
router_incident is a hot table: the new column gets its small statistics target (migration 0014) too.

Revision ID: 0017_incident_step_round
Revises: 0016_calendar_feed_token
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from alertrouter_shared.database import HOT_TABLE_STATISTICS_TARGET, statistics_target_sql

revision: str = "0017_incident_step_round"
down_revision: str | None = "0016_calendar_feed_token"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("router_incident", sa.Column("step_round", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE router_incident AS i SET step_round = s.highest "
        "FROM (SELECT incident_id, max(round) AS highest FROM router_escalation_step GROUP BY incident_id) AS s "
        "WHERE s.incident_id = i.id AND i.status <> 'resolved'"
    )
    op.execute(statistics_target_sql(("router_incident",), HOT_TABLE_STATISTICS_TARGET))  # the new column's too


def downgrade() -> None:
    op.drop_column("router_incident", "step_round")
