"""A heartbeat's part in the decision (pure): the beat an event records, when a silent heartbeat's alert is raised
(and raised again), the alert itself, and whether a beat heard since makes a raised alert moot.

Times of beats are the router's clock when it processed them, so a due time (last beat + interval + grace) and the
beats the decision compares it with are on one clock. The interval and grace are always the current
configuration's: a heartbeat removed or disabled is never raised, a shortened interval acts at once.

The timer pass that raises the alerts and the API's listing are ``heartbeats.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from alertrouter_router.decisions import derived_id
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_router.ownership.model import Integration
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource, heartbeat_dedup_key

# While a heartbeat stays silent its alert is raised again every interval + grace, but at least every hour and at
# most every 5 minutes. Raised again, an alert firing in an open incident is only a duplicate; one whose page was
# lost (a lagging consumer's stale suppression, an ingest clock ahead of ours) or whose incident a person resolved
# while the job is still dead pages again. An hour bounds how late that page comes for a daily job; five minutes
# keeps a 60-second heartbeat someone resolved from paging them again every two minutes.
REPEAT_AT_LEAST = timedelta(minutes=5)
REPEAT_AT_MOST = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Beat:
    integration_id: str
    service_id: str | None
    at: datetime
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Raise:
    """One raise of a silent heartbeat's alert, planned by the timer pass."""

    integration_id: str
    due: datetime  # when this raise fell due: the alert's event time (the first raise: when it became overdue)
    covered: datetime  # the latest due time this raise stands for; the next raise is ``repeat_every`` after it
    overdue_since: datetime
    event: AlertEvent


def monitored(spec: Integration | None) -> bool:
    """A configured, enabled heartbeat (or Watchdog receiver): only these record beats and raise alerts."""
    return spec is not None and spec.enabled and spec.beats and spec.interval_seconds is not None


def monitored_heartbeats(config: LoadedConfig) -> list[Integration]:
    return [spec for spec in config.config.integrations if monitored(spec)]


def allowance(spec: Integration) -> timedelta:
    """How long after a beat the next one may come: interval plus grace."""
    return timedelta(seconds=(spec.interval_seconds or 0) + spec.grace_seconds)


def repeat_every(spec: Integration) -> timedelta:
    return min(max(allowance(spec), REPEAT_AT_LEAST), REPEAT_AT_MOST)


def beat_of(event: AlertEvent, config: LoadedConfig, now: datetime) -> Beat | None:
    """The beat a heartbeat event records, or None when its integration is not (or no longer) a heartbeat."""
    spec = config.integrations_by_id.get(event.integration_id)
    if event.source is not AlertSource.HEARTBEAT or spec is None or not monitored(spec):
        return None
    return Beat(spec.id, spec.service, now, now + allowance(spec))


def overdue_at(spec: Integration, last_beat_at: datetime | None, armed: datetime | None = None) -> datetime:
    """When the heartbeat is overdue: its last beat plus interval and grace, or, enabled again (or added back)
    after a pause and no beat since, counted from when it was (``armed``). While paused ingest refuses its beats,
    so counting from the beat before the pause paged "gone silent" at once for a job beating as it should.

    A heartbeat that has never beaten counts from when the router first saw it monitored (``armed``, no last
    beat): waiting for a first beat that never came, a job whose heartbeat URL or key was wrong from the start
    was never paged for."""
    started = [at for at in (last_beat_at, armed) if at is not None]
    if not started:
        raise ValueError(f"heartbeat {spec.id}: neither a beat nor a start of monitoring")
    return max(started) + allowance(spec)


def next_due(
    spec: Integration, last_beat_at: datetime | None, raised: datetime | None, armed: datetime | None = None
) -> datetime:
    """When the heartbeat's alert is (next) raised: ``raised`` is the due time the last raise covered, None while
    the heartbeat is ok. Raised again never before it is overdue by the current configuration: an interval a
    reload lengthened past the hour of ``repeat_every`` (60 s was a mistake, the job runs daily) paged "gone
    silent" again within the hour for a job not due for a day."""
    overdue = overdue_at(spec, last_beat_at, armed)
    return overdue if raised is None else max(raised + repeat_every(spec), overdue)


def due_raise(
    spec: Integration,
    last_beat_at: datetime | None,
    raised: datetime | None,
    now: datetime,
    armed: datetime | None = None,
) -> Raise | None:
    """The raise due at ``now``, if any. The first raise is dated when the heartbeat became overdue; a raise
    again, the latest due time passed (a router down for hours raises once, not once per missed period). The
    same row and the same due time give the same event, so a pass repeated after a crash raises nothing new.

    Due strictly after the allowance: a beat exactly interval + grace after the last one is on time (grace is how
    late a beat may be), so the pass at that very instant raises nothing."""
    overdue_since = overdue_at(spec, last_beat_at, armed)
    start = next_due(spec, last_beat_at, raised, armed)
    if start >= now:
        return None
    every = repeat_every(spec)
    covered = start + every * ((now - start) // every)
    due = start if raised is None else covered
    alert = silent_alert(spec, last_beat_at, due, now, monitored_since=armed)
    return Raise(spec.id, due, covered, overdue_since, alert)


def silent_alert(
    spec: Integration,
    last_beat_at: datetime | None,
    due: datetime,
    now: datetime,
    *,
    monitored_since: datetime | None = None,
) -> AlertEvent:
    """The trigger raised for a heartbeat past due. Its event time is the due time, not now: a beat the router
    had not yet processed when it raised the alert (a backlog after a restart) is later than that, and makes the
    trigger out of order instead of a page; received now, it is not a stale backlog event. Its id is derived from
    the last beat and the due time: each raise is a new event, and a raise repeated after a crash is the same."""
    if last_beat_at is None:
        if monitored_since is None:
            raise ValueError(f"heartbeat {spec.id}: neither a beat nor a start of monitoring")
        silence = f"no heartbeat from {spec.id} ever (monitored since {monitored_since.isoformat(timespec='seconds')})"
    else:
        silence = f"no heartbeat from {spec.id} since {last_beat_at.isoformat(timespec='seconds')}"
    last = "never" if last_beat_at is None else last_beat_at.isoformat()
    return AlertEvent(
        event_id=derived_id("heartbeat-silent", f"{spec.id}:{last}:{due.isoformat()}"),
        source=AlertSource.HEARTBEAT,
        integration_id=spec.id,
        action=AlertAction.TRIGGER,
        dedup_key=heartbeat_dedup_key(spec.id),
        summary=f"monitoring for {spec.service or spec.id} has gone silent: {silence}",
        labels={"alertname": "HeartbeatMissing", "heartbeat": spec.id},
        bound_service=spec.service,
        occurred_at=due,
        received_at=now,
    )


def heard_since(event: AlertEvent, config: LoadedConfig, last_beat_at: datetime | None, occurred: datetime) -> bool:
    """A heartbeat's silent alert is moot when a beat heard since leaves it not overdue at the alert's time: a beat
    queued in Kafka while the router was down (or lagging) is processed before the alert raised meanwhile, since
    both are keyed by the heartbeat's dedup key."""
    spec = config.integrations_by_id.get(event.integration_id)
    if event.source is not AlertSource.HEARTBEAT or last_beat_at is None or spec is None or not monitored(spec):
        return False
    return last_beat_at + allowance(spec) > occurred
