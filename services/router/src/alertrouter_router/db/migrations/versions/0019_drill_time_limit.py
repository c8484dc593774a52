"""paging drills end on their own: a time limit on the drill run, its alert and its incident

A drill incident that nobody acknowledged or resolved stayed open for ever, escalating through its policy (and,
acknowledged, paging again at every acknowledgement timeout). A paging drill now carries an end time
(``router_drill.ends_at``, copied from its alert event to ``router_alert.drill_ends_at`` and
``router_incident.drill_ends_at``); the timer loop resolves a drill incident still open then, found through the
partial index below, which holds open drill incidents only. Drills already open end 30 minutes after they opened
(at the first timer pass, for the older ones). router_alert and router_incident are hot tables: the new columns get
their small statistics target (migration 0014) too.

Revision ID: 0019_drill_time_limit
Revises: 0018_wider_page_ids
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from alertrouter_shared.database import HOT_TABLE_STATISTICS_TARGET, statistics_target_sql

revision: str = "0019_drill_time_limit"
down_revision: str | None = "0018_wider_page_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOT_TABLES = ("router_alert", "router_incident")


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.add_column("router_drill", sa.Column("ends_at", ts, nullable=True))
    op.add_column("router_alert", sa.Column("drill_ends_at", ts, nullable=True))
    op.add_column("router_incident", sa.Column("drill_ends_at", ts, nullable=True))
    op.execute("UPDATE router_drill SET ends_at = started_at + interval '30 minutes' WHERE NOT silent")
    op.execute(
        "UPDATE router_alert SET drill_ends_at = episode_opened_at + interval '30 minutes' "
        "WHERE drill AND status <> 'resolved'"
    )
    op.execute(
        "UPDATE router_incident SET drill_ends_at = opened_at + interval '30 minutes' "
        "WHERE drill AND status <> 'resolved'"
    )
    op.create_index(
        "ix_router_incident_drill_ends",
        "router_incident",
        ["drill_ends_at"],
        postgresql_where=sa.text("drill_ends_at IS NOT NULL AND status <> 'resolved'"),
    )
    op.execute(statistics_target_sql(HOT_TABLES, HOT_TABLE_STATISTICS_TARGET))  # the new columns' too


def downgrade() -> None:
    op.drop_index("ix_router_incident_drill_ends", table_name="router_incident")
    op.drop_column("router_incident", "drill_ends_at")
    op.drop_column("router_alert", "drill_ends_at")
    op.drop_column("router_drill", "ends_at")
