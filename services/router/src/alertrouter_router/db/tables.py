"""The router's tables (all prefixed ``router_``; the notifier owns ``notifier_`` tables on the same server).

Idempotency lives here: a decision is unique per event id, an escalation step per (incident, round, level),
a page per deterministic page id, and an alert per dedup key (it points at the incident of its episode).
The tables written for every alert are analyzed on a small sample (migration 0014): a column added to them needs
the same.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from alertrouter_router.decisions.grouping import MAX_GROUP_KEY_CHARS
from alertrouter_shared.events import MAX_PAGE_ID_CHARS

# Who did something: a user id, or a prefixed name ("client:<name>", "source:<integration>", "schedule:<id>"),
# each id at most 128 characters (MAX_ID_CHARS), so the prefix needs room beyond the id's own width.
ACTOR_CHARS = 160

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Json = JSON().with_variant(JSONB(), "postgresql")


def _ts(name: str, nullable: bool = True) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


incident = Table(
    "router_incident",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("dedup_key", String(512), nullable=False),  # the alert that opened it
    Column("status", String(16), nullable=False),  # triggered | acknowledged | resolved
    Column("service_id", String(128)),
    Column("team_id", String(128)),
    Column("policy_id", String(128)),
    Column("summary", Text, nullable=False, server_default=""),
    Column("severity", String(16), nullable=False, server_default="critical"),
    Column("labels", Json, nullable=False),
    Column("alert_count", Integer, nullable=False, server_default="1"),  # member alerts, ever
    Column("firing_count", Integer, nullable=False, server_default="0"),  # member alerts not yet resolved
    Column("group_key", String(MAX_GROUP_KEY_CHARS)),
    _ts("opened_at", False),
    _ts("first_event_at", False),
    _ts("last_event_at", False),
    _ts("acknowledged_at"),
    Column("acknowledged_by", String(ACTOR_CHARS)),
    _ts("resolved_at"),
    Column("resolved_by", String(ACTOR_CHARS)),
    Column("config_version", String(64)),
    Column("round_base", Integer, nullable=False, server_default="0"),
    Column("last_round", Integer, nullable=False, server_default="0"),
    Column("last_level", Integer, nullable=False, server_default="0"),
    Column("step_round", Integer, nullable=False, server_default="0"),  # highest round a step was scheduled at
    _ts("retrigger_at"),
    Column("drill", Boolean, nullable=False, server_default=text("false")),  # opened by a drill (drills/)
    _ts("drill_ends_at"),  # a drill's time limit: the timer resolves the incident then (migration 0019)
    Index("ix_router_incident_service_opened", "service_id", "opened_at"),
    Index("ix_router_incident_retrigger", "retrigger_at", postgresql_where=text("retrigger_at IS NOT NULL")),
    Index(
        "ix_router_incident_drill_ends",
        "drill_ends_at",
        postgresql_where=text("drill_ends_at IS NOT NULL AND status <> 'resolved'"),
    ),
    Index("ix_router_incident_dedup_key", "dedup_key"),
    Index("ix_router_incident_opened", "opened_at", "id"),
    # Grouping is serialised per service by an advisory lock (db/snapshot_reads.lock_groups), not by an index.
    Index(
        "ix_router_incident_open_group",
        "group_key",
        "opened_at",
        postgresql_where=text("status <> 'resolved' AND group_key IS NOT NULL"),
    ),
)

alert = Table(
    "router_alert",
    metadata,
    Column("dedup_key", String(512), primary_key=True),
    Column("status", String(16), nullable=False),  # firing | suppressed | resolved
    Column("incident_id", String(36), ForeignKey("router_incident.id")),
    Column("suppressed_by", String(16)),  # maintenance | stale | no_route
    _ts("recheck_at"),
    Column("service_id", String(128)),
    Column("team_id", String(128)),
    Column("policy_id", String(128)),
    Column("source", String(32), nullable=False),
    Column("integration_id", String(128), nullable=False),
    Column("bound_service", String(128)),
    Column("summary", Text, nullable=False, server_default=""),
    Column("severity", String(16), nullable=False, server_default="critical"),
    Column("labels", Json, nullable=False),
    _ts("episode_started_at"),
    _ts("episode_opened_at", False),
    _ts("first_event_at", False),
    _ts("last_event_at", False),
    Column("repeat_count", Integer, nullable=False, server_default="0"),
    _ts("resolved_at"),
    _ts("updated_at", False),
    Column("drill", Boolean, nullable=False, server_default=text("false")),
    _ts("drill_ends_at"),  # a drill alert's time limit: routed after it, it pages nobody
    # the source resolved this episode (not only a person): its firing again is live (migration 0022)
    Column("resolved_by_source", Boolean, nullable=False, server_default=text("false")),
    Column("no_route_version", String(64)),  # the configuration version that found no route for it
    Index("ix_router_alert_incident", "incident_id"),
    Index(
        "ix_router_alert_recheck",
        "recheck_at",
        postgresql_where=text("status = 'suppressed' AND recheck_at IS NOT NULL"),
    ),
    Index(
        "ix_router_alert_unrouted",
        "suppressed_by",
        postgresql_where=text("status = 'suppressed' AND suppressed_by = 'no_route'"),
    ),
)

decision = Table(
    "router_decision",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("seq", BigInteger, Identity(), nullable=False, unique=True),
    Column("event_id", String(36), unique=True),
    Column("step_key", String(128), unique=True),
    Column("incident_id", String(36), ForeignKey("router_incident.id")),
    Column("dedup_key", String(512)),
    Column("kind", String(16), nullable=False),  # event | escalation | recheck | manual
    Column("outcome", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("service_id", String(128)),
    Column("team_id", String(128)),
    Column("policy_id", String(128)),
    Column("level", Integer),
    Column("config_version", String(64)),
    _ts("created_at", False),
    Column("explanation", Json, nullable=False),
    Index("ix_router_decision_service_created", "service_id", "created_at"),
    Index("ix_router_decision_incident", "incident_id"),
    Index("ix_router_decision_dedup_key", "dedup_key"),
)

escalation_step = Table(
    "router_escalation_step",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(36), ForeignKey("router_incident.id"), nullable=False),
    Column("round", Integer, nullable=False),
    Column("level", Integer, nullable=False),
    _ts("due_at", False),
    Column("status", String(16), nullable=False),  # pending | done | cancelled
    _ts("fired_at"),
    UniqueConstraint("incident_id", "round", "level", name="uq_router_escalation_step_position"),
    Index("ix_router_escalation_step_due", "due_at", postgresql_where=text("status = 'pending'")),
)

outbox = Table(
    "router_outbox",
    metadata,
    Column("page_id", String(MAX_PAGE_ID_CHARS), primary_key=True),
    Column("incident_id", String(36), nullable=False),
    Column("payload", Text, nullable=False),
    _ts("created_at", False),
    _ts("send_at", False),
    _ts("published_at"),
    Index("ix_router_outbox_unpublished", "send_at", postgresql_where=text("published_at IS NULL")),
    Index("ix_router_outbox_send_at", "send_at"),  # the on-call report reads published pages by window
    Index("ix_router_outbox_incident", "incident_id"),  # status updates, cancellations, "not reached"
)

timeline = Table(
    "router_timeline",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(36), nullable=False),
    _ts("at", False),
    Column("kind", String(32), nullable=False),
    Column("ref", String(200)),
    Column("data", Json, nullable=False),
    UniqueConstraint("kind", "ref", name="uq_router_timeline_kind_ref"),
    Index("ix_router_timeline_incident", "incident_id", "at"),
)

maintenance_window = Table(
    "router_maintenance_window",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("service_id", String(128), nullable=False),
    _ts("starts_at", False),
    _ts("ends_at", False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("created_by", String(ACTOR_CHARS)),
    Column("active", Boolean, nullable=False, server_default=text("true")),
)

heartbeat = Table(
    "router_heartbeat",
    metadata,
    Column("integration_id", String(128), primary_key=True),
    Column("service_id", String(128)),
    _ts("last_beat_at"),  # NULL: armed when first seen configured, never beaten yet
    _ts("due_at", False),  # ok: due as of the beat (the timer uses the current config); silent: the due raised last
    Column("state", String(16), nullable=False),  # ok | silent | armed | paused
    _ts("silent_since"),
    _ts("armed_at"),  # when monitoring (re)started: first seen configured, or enabled again after a pause
    Index("ix_router_heartbeat_due", "due_at", postgresql_where=text("state = 'ok'")),
)

change_event = Table(
    "router_change_event",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("service_id", String(128), nullable=False),
    Column("integration_id", String(128), nullable=False),
    Column("summary", Text, nullable=False),
    Column("source", Text),
    _ts("occurred_at", False),
    _ts("received_at", False),
    Column("links", Json, nullable=False),
    Column("custom_details", Json, nullable=False),
    Index("ix_router_change_event_service_occurred", "service_id", "occurred_at"),
)

drill = Table(
    "router_drill",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("service_id", String(128), nullable=False),
    Column("silent", Boolean, nullable=False),
    Column("requested_by", String(ACTOR_CHARS), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    _ts("started_at", False),
    Column("event_id", String(36)),  # the synthetic alert's event (a paging drill)
    Column("dedup_key", String(512)),  # drill:<service>:<run>; its incident is found through it
    Column("checks", Json),  # a silent drill's findings: the chain as it stands, nothing paged
    Column("schedule_id", String(128)),  # started by services[].drills[id] of the configuration
    _ts("scheduled_at"),  # the run of that schedule it is
    _ts("ends_at"),  # a paging drill's time limit (its incident is resolved then); NULL: silent, or before 0019
    Index("ix_router_drill_service_started", "service_id", "started_at"),
)

scheduled_drill = Table(  # a row per run of a configured schedule: inserting it claims it (drills/scheduled_drills.py)
    "router_scheduled_drill",
    metadata,
    Column("service_id", String(128), primary_key=True),
    Column("schedule_id", String(128), primary_key=True),
    Column("scheduled_at", DateTime(timezone=True), primary_key=True),
    Column("status", String(16), nullable=False),  # started | skipped
    Column("drill_id", String(36)),  # the run started (router_drill.id)
    _ts("claimed_at", False),
    Column("reason", Text, nullable=False, server_default=""),
)

api_token = Table(
    "router_api_token",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("digest", String(64), nullable=False, unique=True),  # sha256 of the secret; the secret is never stored
    Column("user_id", String(128)),  # a person of the ownership configuration, or
    Column("client", String(128)),  # a named machine client
    Column("role", String(16), nullable=False),  # viewer | responder | team_admin | admin
    Column("act_as", Boolean, nullable=False, server_default=text("false")),  # machine clients only
    Column("description", Text, nullable=False, server_default=""),
    Column("created_by", String(ACTOR_CHARS), nullable=False),
    _ts("created_at", False),
    _ts("expires_at"),
    _ts("last_used_at"),
    _ts("revoked_at"),
)

audit = Table(
    "router_audit",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),  # the cursor's order and tie-breaker
    _ts("at", False),
    Column("actor", String(ACTOR_CHARS), nullable=False),  # user id, or "client:<name>"
    Column("token_id", String(36)),
    Column("action", String(64), nullable=False),  # incident.acknowledge, maintenance.create, token.revoke, …
    Column("target_type", String(32), nullable=False),
    Column("target_id", String(512), nullable=False),
    Column("team_id", String(128)),
    Column("before", Json),
    Column("after", Json),
    Index("ix_router_audit_target", "target_type", "target_id"),
    Index("ix_router_audit_actor", "actor"),
)

calendar_feed = Table(
    "router_calendar_feed",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("digest", String(64), nullable=False, unique=True),  # sha256 of the secret in the feed's URL
    Column("kind", String(16), nullable=False),  # schedule | user
    Column("target_id", String(128), nullable=False),
    Column("created_by", String(ACTOR_CHARS), nullable=False),
    Column("token_id", String(36)),  # the API token that made it (NULL: a bootstrap client, or made before 0016)
    _ts("created_at", False),
    _ts("revoked_at"),
)

schedule_override = Table(
    "router_schedule_override",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("schedule_id", String(128), nullable=False),
    Column("user_id", String(128), nullable=False),
    _ts("starts_at", False),
    _ts("ends_at", False),
    Column("replaces", String(128)),  # only this person is covered; none: whoever is on call
    Column("reason", Text, nullable=False, server_default=""),
    Column("created_by", String(ACTOR_CHARS), nullable=False),
    _ts("created_at", False),
    _ts("deleted_at"),
    Index("ix_router_schedule_override_active", "ends_at", postgresql_where=text("deleted_at IS NULL")),
)

shift_reminder = Table(
    "router_shift_reminder",
    metadata,
    # one reminder per person, schedule and shift start: inserting the row is the claim (ON CONFLICT DO NOTHING)
    Column("user_id", String(128), primary_key=True),
    Column("schedule_id", String(128), primary_key=True),
    Column("shift_start", DateTime(timezone=True), primary_key=True),
    _ts("shift_end", False),
    _ts("remind_at", False),
    Column("override", Boolean, nullable=False),
    Column("page_id", String(MAX_PAGE_ID_CHARS), nullable=False),
    _ts("claimed_at", False),
    _ts("stood_down_at", True),  # told they are no longer on call for it (an override covers it, or was removed)
    Index("ix_router_shift_reminder_claimed_at", "claimed_at"),
    Index("ix_router_shift_reminder_shift_end", "shift_end"),
)

config_version = Table(
    "router_config_version",
    metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),  # the cursor's order and tie-breaker
    Column("version", String(64), nullable=False),  # sha256 of the validated model (decisions carry it)
    Column("source_version", String(64), nullable=False),  # sha256 of the files (what ingest reports too)
    _ts("loaded_at", False),
    Column("trigger", String(16), nullable=False),  # startup | api | sighup | watch
    Column("loaded_by", String(ACTOR_CHARS), nullable=False),  # user id, or client:<name> (client:watch, …)
    Column("token_id", String(36)),
    Column("process", String(160), nullable=False),  # host:pid of the router process that loaded it first
    Column("files", Json, nullable=False),
    Column("content", Json, nullable=False),  # the validated configuration, inline keys as digests: for diffs
    Index("ix_router_config_version_version", "version"),
)
