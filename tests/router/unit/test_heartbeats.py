"""Heartbeats in the pure core: when a silent heartbeat's alert is raised (and raised again), and how ``decide``
takes it — a page lost or dismissed while the job stays dead comes again; a beat queued behind a restarted or
lagging router makes the alert raised meanwhile moot. The timer's row is mimicked here as ``heartbeats.py`` keeps
it in ``router_heartbeat``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from alertrouter_router.decisions import Outcome
from alertrouter_router.decisions.beats import Raise, due_raise, overdue_at, repeat_every, silent_alert
from alertrouter_router.ownership.model import Integration
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource, heartbeat_dedup_key
from tests.router.unit.decide_support import CONFIG, T0, Store, minutes

SPEC = CONFIG.integrations_by_id["test-heartbeat"]  # interval 60 s + grace 60 s: raised again every 5 minutes
KEY = heartbeat_dedup_key("test-heartbeat")
OVERDUE = T0 + timedelta(seconds=121)  # a second after interval + grace past a beat at T0 (at 120 s it is on time)


def beat(at: datetime) -> AlertEvent:
    """A beat as ingest produces it: stamped with ingest's clock."""
    return AlertEvent(
        event_id=uuid.uuid4(),
        source=AlertSource.HEARTBEAT,
        integration_id="test-heartbeat",
        action=AlertAction.RESOLVE,
        dedup_key=KEY,
        summary="heartbeat of test-heartbeat",
        labels={"heartbeat": "test-heartbeat"},
        bound_service="checkout",
        occurred_at=at,
        received_at=at,
    )


@dataclass
class Row:
    """``router_heartbeat`` as the timer pass reads and marks it."""

    last_beat_at: datetime
    raised: datetime | None = None  # the due time the last raise covered (the row is 'silent')

    def timer(self, now: datetime) -> Raise | None:
        found = due_raise(SPEC, self.last_beat_at, self.raised, now)
        if found is not None:
            self.raised = found.covered
        return found


def heard(store: Store, at: datetime, now: datetime | None = None) -> Row:
    """A beat stamped ``at`` by ingest, processed by the router at ``now``: the row the router keeps."""
    store.run([beat(at)], now or at)
    return Row(store.last_beats["test-heartbeat"])


def spec(interval: int, grace: int) -> Integration:
    return Integration.model_validate(
        {
            "id": "hb",
            "type": "heartbeat",
            "service": "checkout",
            "interval_seconds": interval,
            "grace_seconds": grace,
            "key": "k",
            "development_only": True,
        }
    )


@pytest.mark.parametrize(
    ("interval", "grace", "every"),
    [(60, 60, minutes(5)), (600, 60, timedelta(seconds=660)), (86400, 900, timedelta(hours=1))],
    ids=["short: at least five minutes apart", "interval + grace", "long: at least every hour"],
)
def test_a_silent_heartbeat_is_raised_again_every_interval_plus_grace_within_five_minutes_and_an_hour(
    interval: int, grace: int, every: timedelta
) -> None:
    assert repeat_every(spec(interval, grace)) == every


def test_the_first_raise_is_dated_when_the_heartbeat_became_overdue_and_each_raise_again_is_a_new_event() -> None:
    row = Row(T0)
    assert row.timer(T0 + timedelta(seconds=119)) is None
    first = row.timer(T0 + minutes(9))  # the router was busy (or down): still dated when it became overdue
    assert first is not None
    assert (first.due, first.covered, first.overdue_since) == (T0 + minutes(2), T0 + minutes(7), T0 + minutes(2))
    assert (first.event.occurred_at, first.event.received_at) == (T0 + minutes(2), T0 + minutes(9))
    assert row.timer(T0 + minutes(11)) is None
    again = row.timer(T0 + minutes(30))  # hours late it raises once, dated the latest due time passed
    assert again is not None and (again.due, again.covered) == (T0 + minutes(27), T0 + minutes(27))
    assert again.event.event_id != first.event.event_id


def test_a_timer_pass_repeated_after_a_crash_raises_the_same_event() -> None:
    """Produced, then the process died before the row was marked: the next pass raises the very same event."""
    crashed = due_raise(SPEC, T0, None, T0 + timedelta(seconds=121))
    repeated = due_raise(SPEC, T0, None, T0 + minutes(3))
    assert crashed is not None and repeated is not None
    assert crashed.event.event_id == repeated.event.event_id
    store = Store()
    heard(store, T0)
    store.run([crashed.event], T0 + minutes(2))
    store.run([repeated.event], T0 + minutes(3))
    assert [d.outcome for d in store.decisions if d.dedup_key == KEY] == [Outcome.RESOLVED, Outcome.PAGED]


def test_raised_again_while_its_incident_is_open_is_a_duplicate_and_after_a_person_resolved_it_pages_again() -> None:
    store = Store()
    row = heard(store, T0)
    first = row.timer(OVERDUE)
    assert first is not None
    store.run([first.event], OVERDUE)
    paged = store.last(KEY)
    assert paged.outcome is Outcome.PAGED
    again = row.timer(OVERDUE + minutes(5))
    assert again is not None
    store.run([again.event], OVERDUE + minutes(5))
    assert store.last(KEY).outcome is Outcome.DUPLICATE and store.last(KEY).incident_id == paged.incident_id
    store.act(paged.incident_id or "", "resolve", T0 + minutes(8))  # the job is still dead
    assert row.timer(T0 + minutes(11)) is None
    later = row.timer(OVERDUE + minutes(10))
    assert later is not None
    store.run([later.event], OVERDUE + minutes(10))
    reopened = store.last(KEY)
    assert reopened.outcome is Outcome.PAGED and reopened.incident_id != paged.incident_id


def test_a_raise_suppressed_as_stale_by_a_lagging_consumer_pages_when_raised_again() -> None:
    store = Store()
    row = heard(store, T0)
    first = row.timer(OVERDUE)
    assert first is not None
    store.run([first.event], T0 + minutes(20))  # the alerts consumer was 18 minutes behind
    assert store.last(KEY).explanation.get("suppressed_by") == "stale"
    again = row.timer(T0 + minutes(20))
    assert again is not None
    store.run([again.event], T0 + minutes(20))
    decision = store.last(KEY)
    assert decision.outcome is Outcome.PAGED and decision.reason.startswith("a fresh trigger after a stale one")


def test_a_raise_out_of_order_behind_an_ingest_clock_ahead_of_ours_pages_when_raised_again() -> None:
    store = Store()
    row = heard(store, T0 + minutes(4), now=T0)  # ingest's clock is four minutes ahead of the router's
    first = row.timer(OVERDUE)
    assert first is not None
    store.run([first.event], OVERDUE)
    assert store.last(KEY).explanation.get("suppressed_by") == "out_of_order"
    again = row.timer(OVERDUE + minutes(5))
    assert again is not None
    store.run([again.event], OVERDUE + minutes(5))
    assert store.last(KEY).outcome is Outcome.PAGED


@pytest.mark.parametrize(
    "queued",
    [[minutes(1), minutes(1.8)], [minutes(1), minutes(2.2)]],
    ids=["beats before the due time", "a beat after the due time"],
)
def test_after_a_restart_beats_queued_in_kafka_make_the_alert_raised_before_them_moot(
    queued: list[timedelta],
) -> None:
    """The restarted router's first timer pass raises the heartbeat (its row still says the last beat it saw)
    before its consumer reaches the beats that came meanwhile; they are ahead of the alert in its partition."""
    store = Store()
    row = heard(store, T0)
    restarted = T0 + minutes(2.5)
    raised = row.timer(restarted)
    assert raised is not None and raised.event.occurred_at == T0 + minutes(2)
    store.run([beat(T0 + q) for q in queued], restarted)
    store.run([raised.event], restarted)
    decision = store.last(KEY)
    assert decision.outcome is Outcome.SUPPRESSED, decision.reason
    assert decision.explanation.get("suppressed_by") == "out_of_order"
    assert "not overdue" in decision.reason
    assert not store.incidents


def test_after_a_restart_a_dead_job_pages() -> None:
    store = Store()
    row = heard(store, T0)
    raised = row.timer(T0 + minutes(30))  # nothing came while the router was down
    assert raised is not None
    store.run([raised.event], T0 + minutes(30))
    assert store.last(KEY).outcome is Outcome.PAGED


def test_a_beat_and_the_alert_raised_before_it_in_one_batch() -> None:
    store = Store()
    row = heard(store, T0)
    raised = row.timer(OVERDUE)
    assert raised is not None
    store.run([beat(T0 + minutes(1.5)), raised.event], OVERDUE)
    assert store.last(KEY).explanation.get("suppressed_by") == "out_of_order"


def test_a_silent_heartbeat_whose_interval_was_lengthened_is_raised_again_only_once_overdue_by_it() -> None:
    """Raised at +2 min under a 60 s interval, then the interval lengthened to a day: the hourly raise again paged
    for a job not due for another 23 hours."""
    daily = spec(86400, 60)
    assert due_raise(daily, T0, T0 + minutes(2), T0 + minutes(62)) is None
    assert due_raise(daily, T0, T0 + minutes(2), T0 + timedelta(seconds=86460)) is None
    again = due_raise(daily, T0, T0 + minutes(2), T0 + timedelta(seconds=86461))
    assert again is not None and again.due == T0 + timedelta(seconds=86460)


@pytest.mark.parametrize(
    ("last_beat", "armed", "overdue"),
    [
        (T0, None, T0 + minutes(2)),
        (T0, T0 + minutes(60), T0 + minutes(62)),
        (T0 + minutes(61), T0 + minutes(60), T0 + minutes(63)),
        (None, T0 + minutes(60), T0 + minutes(62)),
    ],
    ids=[
        "a beat",
        "enabled again after a pause, no beat since",
        "a beat since it was enabled again",
        "configured, never beaten",
    ],
)
def test_a_heartbeat_enabled_again_or_never_beaten_counts_from_then_or_from_a_later_beat(
    last_beat: datetime | None, armed: datetime | None, overdue: datetime
) -> None:
    assert overdue_at(SPEC, last_beat, armed) == overdue
    assert due_raise(SPEC, last_beat, None, overdue, armed) is None  # exactly interval + grace: still on time
    raised = due_raise(SPEC, last_beat, None, overdue + timedelta(seconds=1), armed)
    assert raised is not None and raised.overdue_since == raised.due == overdue
    if last_beat is None:
        assert armed is not None
        since = f"no heartbeat from test-heartbeat ever (monitored since {armed.isoformat(timespec='seconds')})"
        assert since in raised.event.summary
    else:
        assert last_beat.isoformat(timespec="seconds") in raised.event.summary  # "no heartbeat … since" the beat


def test_a_never_beaten_heartbeat_pages_through_decide_and_its_first_beat_resolves_it() -> None:
    """The alert of a heartbeat that never beat is decided like any other: it pages, and the first beat ends it."""
    store = Store()
    raised = due_raise(SPEC, None, None, T0 + minutes(3), armed=T0)
    assert raised is not None
    store.run([raised.event], T0 + minutes(3))
    assert store.last(KEY).outcome is Outcome.PAGED
    store.run([beat(T0 + minutes(4))], T0 + minutes(4))
    assert store.last(KEY).outcome is Outcome.RESOLVED


def test_neither_a_beat_nor_a_start_of_monitoring_is_refused() -> None:
    with pytest.raises(ValueError, match="neither a beat nor a start"):
        overdue_at(SPEC, None, None)
    with pytest.raises(ValueError, match="neither a beat nor a start"):
        silent_alert(SPEC, None, T0, T0)
