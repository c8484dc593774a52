"""The router's own metrics (consumer and Kafka metrics live in alertrouter_shared.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_SLOW = (5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400)

INCIDENTS_OPENED = Counter("alertrouter_router_incidents_opened_total", "Incidents opened", ["alertrouter_service"])
INCIDENTS_RESOLVED = Counter(
    "alertrouter_router_incidents_resolved_total", "Incidents resolved", ["alertrouter_service"]
)
PAGES_EMITTED = Counter("alertrouter_router_pages_emitted_total", "Pages written to the outbox", ["level"])
MTTA = Histogram(
    "alertrouter_router_time_to_acknowledge_seconds",
    "Incident open to acknowledge",
    ["alertrouter_service"],
    buckets=_SLOW,
)
MTTR = Histogram(
    "alertrouter_router_time_to_resolve_seconds", "Incident open to resolve", ["alertrouter_service"], buckets=_SLOW
)
DECISIONS = Counter("alertrouter_router_decisions_total", "Routing decisions by outcome", ["outcome"])
TIMER_LAG = Histogram(
    "alertrouter_router_escalation_timer_lag_seconds",
    "How late an escalation step fired after its due time",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
SCHEDULED_DRILLS = Counter(
    "alertrouter_router_scheduled_drills_total",
    "Scheduled drill runs by outcome: started, skipped (found too late), retry (Kafka did not take the alert)",
    ["outcome"],
)
TIMER_LOCK_WAITS = Counter(
    "alertrouter_router_timer_lock_waits_total",
    "Timer passes that waited for incidents another transaction held (due steps, snoozes): acquired or timed_out",
    ["timer", "outcome"],
)
TIMER_FAILURES = Counter(
    "alertrouter_router_timer_pass_failures_total",
    "Timer passes (escalation steps, rechecks, snoozes, heartbeats, reminders) that failed and wait for the next poll",
    ["timer"],
)
NOT_STORED_UNDECIDED = Counter(
    "alertrouter_router_not_stored_decisions_failed_total",
    "Alert events the database refused whose not_stored decision could not be written either "
    "(dead-lettered and logged all the same)",
)
