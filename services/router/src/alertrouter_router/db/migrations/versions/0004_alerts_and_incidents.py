"""alerts and incidents: an alert per dedup key, incidents group alerts

Revision ID: 0004_alerts_and_incidents
Revises: 0003
Create Date: 2026-12-04

Existing data: each dedup key's current incident (the open one, else the latest resolved) becomes its alert.
Tombstones (resolved incidents created only to remember a resolve) are removed; the alert keeps the resolve.
Open incidents that never paged anyone because of maintenance or a stale backlog are removed too, and their
alerts become suppressed: maintenance ones are looked at again at once, so a still-firing alert pages now.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_alerts_and_incidents"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SUPPRESSED_ONLY = """
    SELECT i.id, min(d.explanation->>'suppressed_by') AS why
    FROM router_incident i JOIN router_decision d ON d.incident_id = i.id
    WHERE i.status <> 'resolved'
    GROUP BY i.id
    HAVING bool_and(d.outcome = 'suppressed' AND d.explanation->>'suppressed_by' IN ('maintenance', 'stale'))
"""
_TOMBSTONES = """
    SELECT i.id FROM router_incident i JOIN router_decision d ON d.incident_id = i.id
    WHERE i.status = 'resolved'
    GROUP BY i.id
    HAVING bool_and(d.kind = 'event' AND d.outcome = 'resolved' AND d.reason LIKE 'no open incident%%')
"""


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "router_alert",
        sa.Column("dedup_key", sa.String(512), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("incident_id", sa.String(36), nullable=True),
        sa.Column("suppressed_by", sa.String(16), nullable=True),
        sa.Column("recheck_at", ts, nullable=True),
        sa.Column("service_id", sa.String(128), nullable=True),
        sa.Column("team_id", sa.String(128), nullable=True),
        sa.Column("policy_id", sa.String(128), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("integration_id", sa.String(128), nullable=False),
        sa.Column("bound_service", sa.String(128), nullable=True),
        sa.Column("summary", sa.Text(), server_default="", nullable=False),
        sa.Column("severity", sa.String(16), server_default="critical", nullable=False),
        sa.Column("labels", postgresql.JSONB(), nullable=False),
        sa.Column("episode_started_at", ts, nullable=True),
        sa.Column("episode_opened_at", ts, nullable=False),
        sa.Column("first_event_at", ts, nullable=False),
        sa.Column("last_event_at", ts, nullable=False),
        sa.Column("repeat_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("resolved_at", ts, nullable=True),
        sa.Column("updated_at", ts, nullable=False),
        sa.PrimaryKeyConstraint("dedup_key", name=op.f("pk_router_alert")),
    )
    op.add_column("router_incident", sa.Column("firing_count", sa.Integer(), server_default="0", nullable=False))
    for column in ("round_base", "last_round", "last_level"):
        op.add_column("router_incident", sa.Column(column, sa.Integer(), server_default="0", nullable=False))
    op.add_column("router_incident", sa.Column("retrigger_at", ts, nullable=True))
    op.create_index(
        "ix_router_incident_retrigger",
        "router_incident",
        ["retrigger_at"],
        postgresql_where=sa.text("retrigger_at IS NOT NULL"),
    )
    op.execute("UPDATE router_incident SET firing_count = CASE WHEN status <> 'resolved' THEN 1 ELSE 0 END")
    # Each key's current incident becomes its alert; a resolve time in the future (sender clock skew) is clamped.
    op.execute(
        """
        INSERT INTO router_alert (dedup_key, status, incident_id, service_id, team_id, policy_id, source,
            integration_id, summary, severity, labels, episode_started_at, episode_opened_at, first_event_at,
            last_event_at, repeat_count, resolved_at, updated_at)
        SELECT DISTINCT ON (i.dedup_key) i.dedup_key,
            CASE WHEN i.status <> 'resolved' THEN 'firing' ELSE 'resolved' END, i.id, i.service_id, i.team_id,
            i.policy_id, coalesce(d.explanation->'event'->>'source', 'alertmanager'),
            coalesce(d.explanation->'event'->>'integration', ''), i.summary, i.severity, i.labels,
            i.episode_started_at, i.first_event_at, i.first_event_at, i.last_event_at, greatest(i.alert_count - 1, 0),
            least(i.resolved_at, now()), now()
        FROM router_incident i
        LEFT JOIN LATERAL (SELECT explanation FROM router_decision WHERE incident_id = i.id AND kind = 'event'
                           ORDER BY seq LIMIT 1) d ON true
        ORDER BY i.dedup_key, (i.status = 'resolved'), i.resolved_at DESC NULLS FIRST
        """
    )
    op.execute(
        f"""
        UPDATE router_alert a SET status = 'suppressed', incident_id = NULL, suppressed_by = s.why,
            recheck_at = CASE WHEN s.why = 'maintenance' THEN now() END
        FROM ({_SUPPRESSED_ONLY}) s WHERE a.incident_id = s.id
        """
    )
    op.execute(
        f"CREATE TEMPORARY TABLE router_doomed_incident ON COMMIT DROP AS SELECT id FROM ({_SUPPRESSED_ONLY}) s "
        f"UNION SELECT id FROM ({_TOMBSTONES}) t"
    )
    doomed = "SELECT id FROM router_doomed_incident"
    op.execute(f"UPDATE router_alert SET incident_id = NULL WHERE incident_id IN ({doomed})")
    op.execute(f"UPDATE router_decision SET incident_id = NULL WHERE incident_id IN ({doomed})")
    for table in ("router_escalation_step", "router_outbox", "router_timeline"):
        op.execute(f"DELETE FROM {table} WHERE incident_id IN ({doomed})")
    op.execute(f"DELETE FROM router_incident WHERE id IN ({doomed})")
    op.create_foreign_key(
        op.f("fk_router_alert_incident_id_router_incident"), "router_alert", "router_incident", ["incident_id"], ["id"]
    )
    op.create_index("ix_router_alert_incident", "router_alert", ["incident_id"])
    op.create_index(
        "ix_router_alert_recheck",
        "router_alert",
        ["recheck_at"],
        postgresql_where=sa.text("status = 'suppressed' AND recheck_at IS NOT NULL"),
    )
    op.drop_index("uq_router_incident_open_dedup_key", table_name="router_incident")
    op.drop_index("ix_router_incident_dedup_key_resolved", table_name="router_incident")
    op.create_index("ix_router_incident_dedup_key", "router_incident", ["dedup_key"])
    op.create_index("ix_router_incident_opened", "router_incident", ["opened_at", "id"])
    op.drop_column("router_incident", "episode_started_at")


def downgrade() -> None:
    op.add_column("router_incident", sa.Column("episode_started_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE router_incident i SET episode_started_at = a.episode_started_at FROM router_alert a "
        "WHERE a.incident_id = i.id AND a.dedup_key = i.dedup_key"
    )
    op.drop_index("ix_router_incident_opened", table_name="router_incident")
    op.drop_index("ix_router_incident_dedup_key", table_name="router_incident")
    # Grouped incidents may share a key's open incident with none other: keep the newest open one per key.
    op.execute(
        "UPDATE router_incident SET status = 'resolved', resolved_at = now(), resolved_by = 'downgrade' "
        "WHERE status <> 'resolved' AND id NOT IN (SELECT DISTINCT ON (dedup_key) id FROM router_incident "
        "WHERE status <> 'resolved' ORDER BY dedup_key, opened_at DESC)"
    )
    op.create_index("ix_router_incident_dedup_key_resolved", "router_incident", ["dedup_key", "resolved_at"])
    op.create_index(
        "uq_router_incident_open_dedup_key",
        "router_incident",
        ["dedup_key"],
        unique=True,
        postgresql_where=sa.text("status <> 'resolved'"),
    )
    op.drop_table("router_alert")
    op.drop_index("ix_router_incident_retrigger", table_name="router_incident")
    for column in ("firing_count", "round_base", "last_round", "last_level", "retrigger_at"):
        op.drop_column("router_incident", column)
