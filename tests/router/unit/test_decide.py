"""The decision core, rule by rule, with no database: ``decide`` is a function of its inputs and ``now``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alertrouter_router.decisions import Outcome
from alertrouter_router.decisions.alerts import AlertStatus, SuppressedBy
from alertrouter_router.decisions.decide import Rules, Snapshot, clamp, decide
from alertrouter_router.decisions.explain import explain_text
from alertrouter_router.decisions.grouping import MAX_GROUP_KEY_CHARS, group_key
from alertrouter_router.decisions.incidents import IncidentStatus
from alertrouter_router.decisions.maintenance import Maintenance
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource
from tests.router.unit.decide_support import CONFIG, T0, Store, decision_row, event, minutes


def test_new_alert_opens_an_incident_and_pages_level_one() -> None:
    store = Store()
    effects = store.run([event("a")], T0)
    decision = store.last("a")
    assert decision.outcome is Outcome.PAGED and decision.level == 1
    assert [t["user"] for t in decision.explanation["targets"]] == ["alice"]
    assert decision.explanation["targets"][0]["selected_by"]["layer"] == "weekly"
    incident = store.incidents[decision.incident_id or ""]
    assert incident.status is IncidentStatus.TRIGGERED and incident.firing_count == 1
    assert {p.contact_method.id for p in effects.pages} == {"alice-hook", "alice-sms"}
    assert all(p.alerts[0].dedup_key == "a" and p.alert_count == 1 for p in effects.pages)
    assert [(s.round, s.level, s.due_at) for s in effects.steps] == [(0, 1, T0 + minutes(5))]


def test_redelivered_event_is_skipped() -> None:
    store = Store()
    first = event("a")
    store.run([first], T0)
    again = store.run([first], T0 + minutes(1))
    assert again.decisions == [] and again.pages == [] and again.alerts == {}


def test_same_event_twice_in_one_batch_decides_once() -> None:
    store = Store()
    first = event("a")
    effects = store.run([first, first], T0)
    assert len(effects.decisions) == 1


def test_repeat_of_a_firing_alert_is_a_duplicate() -> None:
    store = Store()
    store.run([event("a")], T0)
    effects = store.run([event("a", at=T0 + minutes(1))], T0 + minutes(1))
    assert store.last("a").outcome is Outcome.DUPLICATE
    assert effects.pages == []
    assert store.alerts["a"].repeat_count == 1


def test_resolve_of_the_only_alert_resolves_the_incident_and_cancels_escalation() -> None:
    store = Store()
    store.run([event("a")], T0)
    incident_id = store.last("a").incident_id or ""
    effects = store.run([event("a", AlertAction.RESOLVE, at=T0 + minutes(1))], T0 + minutes(1))
    assert store.incidents[incident_id].status is IncidentStatus.RESOLVED
    assert store.incidents[incident_id].resolved_by == "source:test-am"
    assert incident_id in effects.cancelled and store.pending_steps == {}
    store.tick(T0 + minutes(30))
    assert [p.contact_method.id for p in store.pages_for(incident_id)] == ["alice-hook"]  # the SMS was delayed 2 min


def test_trigger_after_resolve_opens_a_new_episode_and_incident() -> None:
    store = Store()
    store.run([event("a")], T0)
    first = store.last("a").incident_id
    store.run([event("a", AlertAction.RESOLVE, at=T0 + minutes(1))], T0 + minutes(1))
    store.run([event("a", at=T0 + minutes(2))], T0 + minutes(2))
    second = store.last("a")
    assert second.outcome is Outcome.PAGED and second.incident_id != first


def test_late_trigger_older_than_the_resolve_pages_nobody() -> None:
    store = Store()
    store.run([event("a")], T0)
    store.run([event("a", AlertAction.RESOLVE, at=T0 + minutes(5))], T0 + minutes(5))
    store.run([event("a", at=T0 + minutes(4))], T0 + minutes(6))
    late = store.last("a")
    assert late.outcome is Outcome.SUPPRESSED and late.explanation["suppressed_by"] == "out_of_order"


def test_repeat_of_a_resolved_episode_does_not_reopen_it() -> None:
    store = Store()
    store.run([event("a", started=T0)], T0)
    incident_id = store.last("a").incident_id
    store.act(incident_id or "", "resolve", T0 + minutes(1))
    assert store.alerts["a"].status is AlertStatus.RESOLVED  # a person's resolve resolves its alerts
    store.run([event("a", at=T0 + minutes(2), started=T0)], T0 + minutes(2))
    assert store.last("a").explanation["suppressed_by"] == "resolved_episode"


def test_an_episode_alertmanager_resolved_and_reports_firing_again_opens_a_new_incident() -> None:
    """Prometheus away longer than the alert's end time (a restart replaying a long WAL): Alertmanager resolves the
    alert, then, Prometheus back with the ``for`` state restored, notifies it firing again with the same startsAt.
    The alert is live again; it was suppressed as a repeat of the resolved episode, and nobody was paged."""
    store = Store()
    store.run([event("a", started=T0)], T0)
    first = store.last("a").incident_id
    store.run([event("a", AlertAction.RESOLVE, at=T0 + minutes(5), started=T0)], T0 + minutes(6))
    assert store.incidents[first or ""].status is IncidentStatus.RESOLVED
    store.run([event("a", at=T0, received=T0 + minutes(20), started=T0)], T0 + minutes(20))
    again = store.last("a")
    assert again.outcome is Outcome.PAGED and again.incident_id not in (None, first)
    assert again.explanation["fired_again"].startswith("alertmanager reports this episode firing again")
    assert "Its episode had been resolved: alertmanager reports this episode firing again" in explain_text(
        decision_row(again)
    )
    # its repeats then join the new incident, as any repeat does
    store.run([event("a", at=T0, received=T0 + minutes(25), started=T0)], T0 + minutes(25))
    assert store.last("a").outcome is Outcome.DUPLICATE and store.last("a").incident_id == again.incident_id


def test_an_episode_the_source_resolved_fires_again_live_whoever_closed_its_incident() -> None:
    """Who resolved the alert was read from its incident: a source's resolve in a grouped incident a person closed
    afterwards, or a source's resolve after a person's, was taken for a person's, and the re-fire paged nobody."""
    store = Store()
    for key in ("a", "b"):
        store.run([event(key, started=T0, service="storm", instance=key)], T0)
    grouped = store.last("a").incident_id or ""
    store.run([event("a", AlertAction.RESOLVE, at=T0 + minutes(5), started=T0, service="storm")], T0 + minutes(6))
    store.act(grouped, "resolve", T0 + minutes(7))  # b still firing: a person closes the incident
    store.run(
        [event("a", at=T0, received=T0 + minutes(20), started=T0, service="storm", instance="a")], T0 + minutes(20)
    )
    assert store.last("a").outcome is Outcome.PAGED and "fired_again" in store.last("a").explanation
    # a person first, then the source: the source's resolve counts too
    store.run([event("c", started=T0)], T0)
    store.act(store.last("c").incident_id or "", "resolve", T0 + minutes(1))
    store.run([event("c", AlertAction.RESOLVE, at=T0 + minutes(5), started=T0)], T0 + minutes(6))
    store.run([event("c", at=T0, received=T0 + minutes(20), started=T0)], T0 + minutes(20))
    assert store.last("c").outcome is Outcome.PAGED and "fired_again" in store.last("c").explanation


def test_resolve_of_an_earlier_episode_leaves_the_alert_firing() -> None:
    store = Store()
    store.run([event("a", started=T0 + minutes(10), at=T0 + minutes(10))], T0 + minutes(10))
    store.run([event("a", AlertAction.RESOLVE, started=T0, at=T0 + minutes(5))], T0 + minutes(11))
    assert store.alerts["a"].status is AlertStatus.FIRING
    assert store.last("a").explanation["suppressed_by"] == "earlier_episode"


@pytest.mark.parametrize("source", [AlertSource.CLOUDWATCH, AlertSource.ALERTMANAGER])
def test_a_late_resolve_between_two_triggers_leaves_the_newer_episode_firing(source: AlertSource) -> None:
    """ALARM at t1, OK at t2, ALARM at t3, the OK received last (SNS keeps no order; a 503 makes it retry): the
    second ALARM was a duplicate that left the episode at t1, so the OK closed the incident while the alarm was in
    ALARM, and CloudWatch, notifying once per change, never paged again."""
    store = Store()
    store.run([event("a", at=T0, started=T0, source=source)], T0)
    t3 = T0 + minutes(10)
    store.run([event("a", at=t3, started=t3, source=source)], t3)
    assert store.last("a").outcome is Outcome.DUPLICATE
    store.run([event("a", AlertAction.RESOLVE, at=T0 + minutes(5), started=T0 + minutes(5), source=source)], t3)
    assert store.alerts["a"].status is AlertStatus.FIRING
    assert store.last("a").explanation["suppressed_by"] == "earlier_episode"
    assert store.incidents[store.alerts["a"].incident_id or ""].live
    # the resolve of the newer episode resolves it
    store.run([event("a", AlertAction.RESOLVE, at=t3 + minutes(1), started=t3 + minutes(1), source=source)], t3)
    assert store.last("a").outcome is Outcome.RESOLVED


def test_future_dated_resolve_is_clamped_and_does_not_suppress_later_triggers() -> None:
    """Problem 4: a resolve with endsAt in 2099 used to suppress every later trigger of its key."""
    store = Store()
    store.run([event("a")], T0)
    far = T0.replace(year=2099)
    store.run([event("a", AlertAction.RESOLVE, at=far, received=T0 + minutes(1))], T0 + minutes(1))
    resolve = store.last("a")
    assert resolve.explanation["clamped"]["to"] == (T0 + minutes(1)).isoformat()
    assert store.alerts["a"].resolved_at == T0 + minutes(1)
    store.run([event("a", at=T0 + minutes(3))], T0 + minutes(3))
    assert store.last("a").outcome is Outcome.PAGED


def test_clamp_allows_the_skew_allowance() -> None:
    assert clamp(T0 + minutes(4), T0, 300) == (T0 + minutes(4), False)
    assert clamp(T0 + minutes(6), T0, 300) == (T0, True)


def test_resolve_of_an_unknown_key_creates_no_incident() -> None:
    """Problem 5: resolves of keys never seen (CloudWatch OK) used to appear as resolved incidents."""
    store = Store()
    effects = store.run([event("never", AlertAction.RESOLVE)], T0)
    assert effects.incidents == {} and store.incidents == {}
    assert store.last("never").outcome is Outcome.RESOLVED and store.last("never").incident_id is None
    assert store.alerts["never"].status is AlertStatus.RESOLVED  # kept for ordering checks


def test_acknowledge_by_source_stops_escalation_and_repeat_is_duplicate() -> None:
    store = Store()
    store.run([event("a")], T0)
    incident_id = store.last("a").incident_id or ""
    store.run([event("a", AlertAction.ACKNOWLEDGE, at=T0 + minutes(1))], T0 + minutes(1))
    assert store.incidents[incident_id].status is IncidentStatus.ACKNOWLEDGED
    assert store.pending_steps == {}
    store.tick(T0 + minutes(60))
    assert len(store.pages_for(incident_id)) == 1  # the webhook; the 2-minute SMS was cancelled
    store.run([event("a", at=T0 + minutes(61))], T0 + minutes(61))
    assert store.last("a").outcome is Outcome.DUPLICATE


def test_acknowledge_without_an_incident_is_recorded() -> None:
    store = Store()
    store.run([event("x", AlertAction.ACKNOWLEDGE)], T0)
    assert store.last("x").outcome is Outcome.ACKNOWLEDGED and store.last("x").incident_id is None


def test_escalation_levels_then_repeat_then_end() -> None:
    store = Store()
    store.run([event("a")], T0)
    incident_id = store.last("a").incident_id or ""
    store.tick(T0 + minutes(5))  # level 2: bob
    assert {p.user_id for p in store.pages_for(incident_id) if p.escalation_level == 2} == {"bob"}
    store.tick(T0 + minutes(15))  # round 2, level 1 (repeat: 1)
    store.tick(T0 + minutes(20))  # round 2, level 2
    store.tick(T0 + minutes(300))
    steps = [d for d in store.decisions if d.kind.value == "escalation"]
    assert [(d.explanation["round"], d.explanation["level"]) for d in steps] == [(1, 2), (2, 1), (2, 2)]
    assert store.pending_steps == {}
    assert steps[-1].explanation["next_escalation"] is None


def test_level_reaching_nobody_is_skipped_at_once() -> None:
    store = Store()
    store.run([event("s", service="skipper")], T0)
    decision = store.last("s")
    assert decision.outcome is Outcome.PAGED and decision.level == 2
    assert decision.explanation["skipped_levels"][0]["level"] == 1


def test_nobody_on_call_says_so() -> None:
    store = Store()
    store.run([event("n", service="unstaffed")], T0)
    decision = store.last("n")
    assert decision.outcome is Outcome.NOBODY_ON_CALL and decision.incident_id is not None
    assert store.pages == []


def test_no_route_is_recorded_and_a_later_trigger_routes_again() -> None:
    store = Store()
    store.run([event("r", service="nowhere")], T0)
    assert store.last("r").outcome is Outcome.NO_ROUTE
    assert store.alerts["r"].suppressed_by is SuppressedBy.NO_ROUTE and store.incidents == {}


def test_grouping_window_joins_new_alerts_into_one_incident() -> None:
    store = Store()
    store.run([event(f"g{i}", service="storm", at=T0 + timedelta(seconds=i)) for i in range(5)], T0)
    outcomes = [d.outcome for d in store.decisions]
    assert outcomes == [Outcome.PAGED] + [Outcome.GROUPED] * 4
    (incident,) = store.incidents.values()
    assert incident.alert_count == 5 and incident.firing_count == 5
    assert len({p.page_id for p in store.pages if p.escalation_level == 1}) == 2  # one per contact method


def test_grouping_window_expires() -> None:
    store = Store()
    store.run([event("g1", service="storm")], T0)
    store.run([event("g2", service="storm", at=T0 + minutes(2))], T0 + minutes(2))  # window is 60 s
    assert store.last("g2").outcome is Outcome.PAGED
    assert len(store.incidents) == 2


def test_grouping_by_labels_splits_incidents() -> None:
    store = Store()
    batch = [
        event("c1", service="clusters", alertname="Down", cluster="eu"),
        event("c2", service="clusters", alertname="Down", cluster="eu"),
        event("c3", service="clusters", alertname="Down", cluster="us"),
        event("c4", service="clusters", alertname="Slow", cluster="eu"),
    ]
    store.run(batch, T0)
    assert [d.outcome for d in store.decisions] == [Outcome.PAGED, Outcome.GROUPED, Outcome.PAGED, Outcome.PAGED]
    assert store.last("c2").incident_id == store.last("c1").incident_id
    assert sorted(i.group_key or "" for i in store.incidents.values()) == [
        "clusters|alertname=Down,cluster=eu",
        "clusters|alertname=Down,cluster=us",
        "clusters|alertname=Slow,cluster=eu",
    ]


def test_group_key_of_long_label_values_fits_its_column_and_still_groups() -> None:
    """A key longer than its column (a long pod name) failed the incident's write: the alert was dead-lettered."""
    store = Store()
    long_eu, long_us = "eu-" + "a" * 10_000, "us-" + "a" * 10_000
    batch = [
        event("l1", service="clusters", alertname="Down", cluster=long_eu),
        event("l2", service="clusters", alertname="Down", cluster=long_eu),
        event("l3", service="clusters", alertname="Down", cluster=long_us),
    ]
    store.run(batch, T0)
    assert [d.outcome for d in store.decisions] == [Outcome.PAGED, Outcome.GROUPED, Outcome.PAGED]
    assert store.last("l2").incident_id == store.last("l1").incident_id
    keys = sorted(i.group_key or "" for i in store.incidents.values())
    assert len(set(keys)) == 2
    assert all(k.startswith("clusters|sha256:") and len(k) <= MAX_GROUP_KEY_CHARS for k in keys)
    # the longest possible: a 128-character service id and its digest
    service = CONFIG.config.services_by_id["clusters"].model_copy(update={"id": "s" * 128})
    assert len(group_key(service, {"cluster": long_eu}) or "") <= MAX_GROUP_KEY_CHARS
    assert group_key(service, {"cluster": "eu"}) == "s" * 128 + "|alertname=,cluster=eu"  # short keys unchanged


def test_incident_with_three_alerts_resolves_only_when_all_have() -> None:
    """Problem 6: the incident closed when its first alert resolved; members still firing paged again."""
    store = Store()
    store.run([event(k, service="storm") for k in ("m1", "m2", "m3")], T0)
    incident_id = store.last("m1").incident_id or ""
    store.run([event("m1", AlertAction.RESOLVE, at=T0 + minutes(1))], T0 + minutes(1))
    store.run([event("m2", AlertAction.RESOLVE, at=T0 + minutes(2))], T0 + minutes(2))
    assert store.incidents[incident_id].status is IncidentStatus.TRIGGERED
    assert store.incidents[incident_id].firing_count == 1
    assert "1 of 3 alerts still firing" in store.last("m2").reason
    store.run([event("m3", at=T0 + minutes(3))], T0 + minutes(3))
    assert store.last("m3").outcome is Outcome.DUPLICATE  # still a member: no new page
    store.run([event("m3", AlertAction.RESOLVE, at=T0 + minutes(4))], T0 + minutes(4))
    assert store.incidents[incident_id].status is IncidentStatus.RESOLVED


def test_person_resolve_resolves_every_member() -> None:
    store = Store()
    store.run([event(k, service="storm") for k in ("m1", "m2")], T0)
    incident_id = store.last("m1").incident_id or ""
    effects = store.act(incident_id, "resolve", T0 + minutes(1))
    assert effects.resolved_members == {incident_id: T0 + minutes(1)}
    assert {a.status for a in store.alerts.values()} == {AlertStatus.RESOLVED}
    assert store.decisions[-1].reason == "resolved by bob"


def test_person_acknowledge_twice_changes_nothing_the_second_time() -> None:
    store = Store()
    store.run([event("a")], T0)
    incident_id = store.last("a").incident_id or ""
    assert store.act(incident_id, "acknowledge", T0 + minutes(1)).decisions
    assert store.act(incident_id, "acknowledge", T0 + minutes(2)).decisions == []


def test_stale_backlog_trigger_is_recorded_and_the_next_fresh_trigger_pages() -> None:
    """Problem 3: a stale trigger opened a never-paged incident and the next fresh trigger was a duplicate."""
    store = Store()
    store.run([event("old", at=T0 - minutes(30), received=T0 - minutes(20))], T0)
    assert store.last("old").explanation["suppressed_by"] == "stale"
    assert store.incidents == {} and store.alerts["old"].suppressed_by is SuppressedBy.STALE
    store.run([event("old", at=T0 + minutes(1))], T0 + minutes(1))
    fresh = store.last("old")
    assert fresh.outcome is Outcome.PAGED and fresh.reason.startswith("a fresh trigger after a stale one")


def test_a_stale_trigger_of_a_source_that_sends_once_pages_if_still_firing_after_the_backlog() -> None:
    """A CloudWatch alarm (or an Events v2 trigger) ingest accepted while the router was down for more than the
    stale limit was left for a next trigger that never comes: CloudWatch notifies once per state change, so the
    alarm never paged. It is looked at again once the backlog is read, and pages if nothing resolved it."""
    store = Store()
    backlog = T0 - minutes(20)
    for key, source in (
        ("cw", AlertSource.CLOUDWATCH),
        ("ev2", AlertSource.EVENTS_V2),
        ("am", AlertSource.ALERTMANAGER),
    ):
        store.run([event(key, at=backlog, source=source, alertname=key)], T0)
        assert store.last(key).explanation["suppressed_by"] == "stale"
    assert store.run([event("ev2", AlertAction.RESOLVE, at=backlog, received=backlog)], T0).decisions
    assert "looked at again at" in store.last("cw").reason and store.alerts["am"].recheck_at is None
    store.tick(T0 + minutes(1))
    paged = store.last("cw")
    assert paged.outcome is Outcome.PAGED, paged.reason
    assert paged.reason.startswith("still firing after the backlog it came in: paged level 1")
    assert store.alerts["ev2"].status is AlertStatus.RESOLVED and store.last("ev2").outcome is not Outcome.PAGED
    assert store.alerts["am"].status is AlertStatus.SUPPRESSED  # Alertmanager sends it again: its repeat pages


def test_a_stale_repeat_of_an_alert_in_maintenance_keeps_its_recheck() -> None:
    """The stale repeat replaced the maintenance suppression and its recheck: the window ended and nothing paged
    (never, for a source that sends only on a change of state, such as CloudWatch)."""
    store = Store()
    store.window("checkout", T0 - minutes(1), T0 + minutes(10))
    store.run([event("m")], T0)
    assert store.alerts["m"].suppressed_by is SuppressedBy.MAINTENANCE and store.alerts["m"].recheck_at is not None
    store.run([event("m", at=T0 - minutes(20), received=T0 - minutes(20))], T0 + minutes(0.5))
    assert store.last("m").explanation["suppressed_by"] == "stale"
    assert store.alerts["m"].suppressed_by is SuppressedBy.MAINTENANCE and store.alerts["m"].recheck_at is not None
    store.tick(T0 + minutes(11))
    assert store.last("m").outcome is Outcome.PAGED


def test_configured_maintenance_suppresses_without_an_incident() -> None:
    store = Store()
    store.run([event("f", service="frozen")], T0)
    assert store.last("f").explanation["suppressed_by"] == "maintenance"
    assert store.incidents == {} and store.alerts["f"].status is AlertStatus.SUPPRESSED


def test_still_firing_alert_pages_when_the_window_ends() -> None:
    """Problem 1: after the window the re-sent alert was a duplicate of a never-paged incident."""
    store = Store()
    store.window("checkout", T0, T0 + timedelta(seconds=12))
    store.run([event("w", at=T0 + timedelta(seconds=2))], T0 + timedelta(seconds=2))
    assert store.last("w").explanation["suppressed_by"] == "maintenance"
    assert store.alerts["w"].recheck_at == T0 + timedelta(seconds=12)
    store.tick(T0 + timedelta(seconds=12))
    paged = store.last("w")
    assert paged.outcome is Outcome.PAGED and paged.reason.startswith("maintenance ended: ")
    assert paged.kind.value == "recheck"


def test_resent_alert_after_the_window_pages_even_before_the_recheck() -> None:
    store = Store()
    store.window("checkout", T0, T0 + timedelta(seconds=12))
    store.run([event("w", at=T0 + timedelta(seconds=2))], T0 + timedelta(seconds=2))
    store.run([event("w", at=T0 + timedelta(seconds=15))], T0 + timedelta(seconds=15))
    assert store.last("w").outcome is Outcome.PAGED


def test_window_ended_early_pages_at_once() -> None:
    store = Store()
    window = store.window("checkout", T0, T0 + timedelta(hours=2))
    store.run([event("w")], T0)
    store.end_window(window, T0 + minutes(1))
    store.tick(T0 + minutes(1))
    assert store.last("w").outcome is Outcome.PAGED


def test_alert_resolved_during_maintenance_never_pages() -> None:
    store = Store()
    store.window("checkout", T0, T0 + minutes(10))
    store.run([event("w")], T0)
    store.run([event("w", AlertAction.RESOLVE, at=T0 + minutes(1))], T0 + minutes(1))
    store.tick(T0 + minutes(10))
    assert store.pages == [] and store.incidents == {}


def test_a_late_resolve_during_maintenance_leaves_the_newer_alarm_to_page_when_the_window_ends() -> None:
    """As for a firing alert: ALARM t1 and t3 in the window, the OK of t2 received last, must not end the alarm."""
    store = Store()
    store.window("checkout", T0, T0 + minutes(30))
    store.run([event("w", at=T0, started=T0, source=AlertSource.CLOUDWATCH)], T0)
    t3 = T0 + minutes(10)
    store.run([event("w", at=t3, started=t3, source=AlertSource.CLOUDWATCH)], t3)
    late_ok = event(
        "w", AlertAction.RESOLVE, at=T0 + minutes(5), started=T0 + minutes(5), source=AlertSource.CLOUDWATCH
    )
    store.run([late_ok], t3)
    assert store.last("w").explanation["suppressed_by"] == "earlier_episode"
    store.tick(T0 + minutes(30))
    assert store.last("w").outcome is Outcome.PAGED


def test_new_alert_is_never_grouped_into_a_never_paged_incident() -> None:
    """Problem 2: alert N after the window was grouped into the incident that alert M had opened silently."""
    store = Store()
    store.window("storm", T0, T0 + timedelta(seconds=8))
    store.run([event("M", service="storm")], T0)
    store.run([event("N", service="storm", at=T0 + timedelta(seconds=10))], T0 + timedelta(seconds=10))
    n = store.last("N")
    assert n.outcome in {Outcome.PAGED, Outcome.GROUPED}
    incident = store.incidents[n.incident_id or ""]
    assert store.pages_for(incident.id), "the incident N belongs to has paged someone"


def test_still_in_maintenance_on_recheck_records_nothing_and_looks_again() -> None:
    store = Store(rules=Rules(recheck_max_seconds=60))
    store.window("checkout", T0, T0 + timedelta(hours=1))
    store.run([event("w")], T0)
    assert store.alerts["w"].recheck_at == T0 + minutes(1)
    before = len(store.decisions)
    store.tick(T0 + minutes(1))
    assert len(store.decisions) == before and store.alerts["w"].recheck_at == T0 + minutes(2)


def test_ack_in_the_same_batch_leaves_nothing_to_send() -> None:
    store = Store()
    effects = store.run([event("a"), event("a", AlertAction.ACKNOWLEDGE)], T0)
    assert effects.pages == [] and effects.steps == []


def test_decide_does_not_mutate_its_snapshot() -> None:
    store = Store()
    store.run([event("a")], T0)
    snapshot = Snapshot(alerts=dict(store.alerts), incidents=dict(store.incidents))
    frozen = (dict(snapshot.alerts), dict(snapshot.incidents))
    decide([event("a", AlertAction.RESOLVE)], snapshot, CONFIG, Maintenance(), T0 + minutes(1))
    assert (snapshot.alerts, snapshot.incidents) == frozen


_LATER = T0 + minutes(5)
RULES = [
    # (rule, events before, the event, outcome, suppressed_by)
    ("a new alert pages", [], event("a"), Outcome.PAGED, None),
    ("a repeat is a duplicate", [event("a")], event("a", at=_LATER), Outcome.DUPLICATE, None),
    ("no rule matches", [], event("a", service="nowhere"), Outcome.NO_ROUTE, None),
    (
        "a backlog event is stale",
        [],
        event("a", at=T0 - minutes(30), received=T0 - minutes(20)),
        Outcome.SUPPRESSED,
        "stale",
    ),
    ("a configured window", [], event("a", service="frozen"), Outcome.SUPPRESSED, "maintenance"),
    ("within the grouping window", [event("b", service="storm")], event("a", service="storm"), Outcome.GROUPED, None),
    ("nobody on call", [], event("a", service="unstaffed"), Outcome.NOBODY_ON_CALL, None),
    ("level 1 reaches nobody", [], event("a", service="skipper"), Outcome.PAGED, None),
    ("resolve of a key never seen", [], event("a", AlertAction.RESOLVE), Outcome.RESOLVED, None),
    ("acknowledge of a key never seen", [], event("a", AlertAction.ACKNOWLEDGE), Outcome.ACKNOWLEDGED, None),
    ("acknowledge by the source", [event("a")], event("a", AlertAction.ACKNOWLEDGE), Outcome.ACKNOWLEDGED, None),
    ("resolve by the source", [event("a")], event("a", AlertAction.RESOLVE, at=_LATER), Outcome.RESOLVED, None),
    (
        "a trigger older than the last resolve",
        [event("a"), event("a", AlertAction.RESOLVE, at=_LATER)],
        event("a", at=_LATER - minutes(1)),
        Outcome.SUPPRESSED,
        "out_of_order",
    ),
    (
        "a replay of an episode its source resolved (CloudWatch reports transitions)",
        [
            event("a", started=T0, source=AlertSource.CLOUDWATCH),
            event("a", AlertAction.RESOLVE, at=T0 + minutes(1), started=T0, source=AlertSource.CLOUDWATCH),
        ],
        event("a", at=_LATER, started=T0, source=AlertSource.CLOUDWATCH),
        Outcome.SUPPRESSED,
        "resolved_episode",
    ),
    (
        "an episode its source resolved, then reports firing again (Alertmanager after a Prometheus outage)",
        [event("a", started=T0), event("a", AlertAction.RESOLVE, at=T0 + minutes(1), started=T0)],
        event("a", at=T0, received=_LATER, started=T0),
        Outcome.PAGED,
        None,
    ),
    (
        "a resolve of an earlier episode",
        [event("a", started=T0 + minutes(2), at=T0 + minutes(2))],
        event("a", AlertAction.RESOLVE, at=T0 + minutes(3), started=T0),
        Outcome.SUPPRESSED,
        "earlier_episode",
    ),
    (
        "a trigger after the resolve",
        [event("a"), event("a", AlertAction.RESOLVE, at=T0 + minutes(1))],
        event("a", at=_LATER),
        Outcome.PAGED,
        None,
    ),
]


@pytest.mark.parametrize(("rule", "before", "given", "outcome", "suppressed_by"), RULES, ids=[r[0] for r in RULES])
def test_rule_table(
    rule: str, before: list[AlertEvent], given: AlertEvent, outcome: Outcome, suppressed_by: str | None
) -> None:
    store, now = Store(), T0
    for earlier in before:
        now = max(earlier.received_at, now)
        store.run([earlier], now)
    store.run([given], max(given.received_at, now))
    decision = store.last("a")
    assert decision.outcome is outcome, decision.reason
    assert decision.explanation.get("suppressed_by") == suppressed_by
