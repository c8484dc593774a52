"""Incidents over time and people's actions, with no database: escalate now, snooze, acknowledgement timeout,
a level that reached nobody, and telling those already paged."""

from __future__ import annotations

from datetime import datetime

from alertrouter_router.decisions import Outcome, escalation
from alertrouter_router.decisions.decide import Effects, NotReached
from alertrouter_router.decisions.escalation import Step
from alertrouter_router.decisions.incidents import IncidentStatus
from alertrouter_router.decisions.paging import escalation_updates, update_pages
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_router.unreached import PageState, unreached_levels
from alertrouter_shared.events import Page, PageKind
from tests.router.unit.decide_support import CONFIG, T0, Store, event, minutes


def _open(store: Store) -> str:
    store.run([event("a")], T0)
    return store.last("a").incident_id or ""


def _levels(store: Store, incident_id: str) -> list[tuple[int, str]]:
    return [(p.escalation_level, p.user_id) for p in store.pages_for(incident_id) if p.kind is PageKind.TRIGGER]


def test_escalate_now_pages_the_next_level_and_reschedules() -> None:
    store = Store()
    incident_id = _open(store)
    effects = store.act(incident_id, "escalate", T0 + minutes(1), by="alice")
    assert (2, "bob") in _levels(store, incident_id)
    assert "escalated by alice: paged level 2" in effects.decisions[0].reason
    # the level-2 step that was due at +5 min is gone; the next one is level 1 of round 2, after level 2's delay
    assert [(s.round, s.level, s.due_at) for s in store.pending_steps.values()] == [(1, 0, T0 + minutes(11))]


def test_escalate_from_a_level_escalates_once() -> None:
    """A phone's "press 2" sent again after the router's answer was lost escalated once more: round 2's level 1
    paged, a level nobody asked for. Asked from level 1, it escalates only while the incident is still there."""
    store = Store()
    incident_id = _open(store)
    assert store.act(incident_id, "escalate", T0 + minutes(1), by="alice", from_level=1).decisions
    paged = _levels(store, incident_id)
    assert store.act(incident_id, "escalate", T0 + minutes(2), by="alice", from_level=1).decisions == []
    assert _levels(store, incident_id) == paged and store.incidents[incident_id].last_level == 1
    assert store.act(incident_id, "escalate", T0 + minutes(3), by="bob", from_level=2).decisions  # from level 2


def test_escalate_past_the_last_level_says_so() -> None:
    store = Store()
    store.run([event("s", service="unstaffed")], T0)
    incident_id = store.last("s").incident_id or ""
    effects = store.act(incident_id, "escalate", T0 + minutes(1))
    assert "no level follows" in effects.decisions[0].reason


def test_escalate_to_a_chosen_level_starts_a_new_cycle_with_new_page_ids() -> None:
    store = Store()
    incident_id = _open(store)
    store.act(incident_id, "acknowledge", T0 + minutes(1))
    store.act(incident_id, "escalate", T0 + minutes(2), level=1)
    incident = store.incidents[incident_id]
    assert incident.status is IncidentStatus.TRIGGERED and incident.round_base == 1
    firsts = [p for p in store.pages_for(incident_id) if p.escalation_level == 1 and p.kind is PageKind.TRIGGER]
    assert len({p.page_id for p in firsts}) == len(firsts) >= 2  # alice paged twice, never the same page id
    assert store.decisions[-1].explanation["round"] == 1  # shown within its cycle


def test_snooze_pages_again_after_the_snooze() -> None:
    store = Store()
    incident_id = _open(store)
    effects = store.act(incident_id, "snooze", T0 + minutes(1), minutes=30)
    assert store.incidents[incident_id].status is IncidentStatus.ACKNOWLEDGED
    assert effects.decisions[0].explanation["snoozed_until"] == (T0 + minutes(31)).isoformat()
    store.tick(T0 + minutes(30))
    assert store.incidents[incident_id].status is IncidentStatus.ACKNOWLEDGED
    store.tick(T0 + minutes(31))
    again = store.decisions[-1]
    assert store.incidents[incident_id].status is IncidentStatus.TRIGGERED
    assert again.outcome is Outcome.PAGED and again.reason.startswith("acknowledged by bob")
    hooks = [p.page_id for p in store.pages_for(incident_id) if p.contact_method.id == "alice-hook"]
    assert len(hooks) == len(set(hooks)) == 2


def test_resolve_during_a_snooze_pages_nobody_again() -> None:
    store = Store()
    incident_id = _open(store)
    store.act(incident_id, "snooze", T0 + minutes(1), minutes=30)
    store.act(incident_id, "resolve", T0 + minutes(2))
    before = len(store.pages)
    store.tick(T0 + minutes(60))
    assert len(store.pages) == before


def _changed(section: str, item_id: str, **fields: object) -> LoadedConfig:
    """The test configuration with one item's fields changed (validated again, so derived lookups are fresh)."""
    document = CONFIG.config.model_dump()
    for item in document[section]:
        if item["id"] == item_id:
            item.update(fields)
    config = type(CONFIG.config).model_validate(document)
    return LoadedConfig(config, CONFIG.version, CONFIG.loaded_at, CONFIG.files, CONFIG.integration_keys)


def test_two_rules_on_one_contact_method_are_two_pages() -> None:
    """ "SMS now, and again after 10 minutes": both pages had one id, so the outbox kept only the first."""
    rules = [{"contact_method": "alice-sms", "delay_minutes": 0}, {"contact_method": "alice-sms", "delay_minutes": 10}]
    store = Store(config=_changed("users", "alice", notification_rules=rules))
    incident_id = _open(store)
    sms = [p for p in store.pages_for(incident_id) if p.contact_method.id == "alice-sms"]
    assert [p.send_at for p in sms] == [T0, T0 + minutes(10)]
    assert len({p.page_id for p in sms}) == 2 and sms[1].page_id.endswith(":alice-sms+10m")


def test_acknowledgement_timeout_of_the_policy() -> None:
    store = Store(config=_changed("escalation_policies", "payments-default", ack_timeout_minutes=20))
    incident_id = _open(store)
    store.act(incident_id, "acknowledge", T0 + minutes(1))
    assert store.incidents[incident_id].retrigger_at == T0 + minutes(21)
    store.tick(T0 + minutes(21))
    assert store.incidents[incident_id].status is IncidentStatus.TRIGGERED


def test_acknowledgement_timeout_of_the_service_s_policy_when_a_reload_renamed_the_incident_s() -> None:
    """The timeout was read from the incident's own policy only: gone, the acknowledgement had none, and the incident
    stayed acknowledged for good (its steps and snoozes went on with the service's policy)."""
    store = Store()
    incident_id = _open(store)
    store.config = _without_payments_default("then-nobody")  # its timeout: 30 minutes
    store.act(incident_id, "acknowledge", T0 + minutes(1))
    assert store.incidents[incident_id].retrigger_at == T0 + minutes(31)
    store.tick(T0 + minutes(31))
    assert store.incidents[incident_id].status is IncidentStatus.TRIGGERED


def test_a_level_that_reached_nobody_escalates_at_once() -> None:
    store = Store()
    incident_id = _open(store)
    failures = ("alice not reached: webhook failed (HTTP 410)", "alice not reached: sms undelivered")
    effects = store.run([NotReached(incident_id, 0, 0, failures)], T0 + minutes(2))
    decision = effects.decisions[0]
    assert decision.reason.startswith("level 1: alice not reached: webhook failed (HTTP 410); alice not reached: sms")
    assert (2, "bob") in _levels(store, incident_id)
    # the level-2 step is not fired again at +5 min
    store.tick(T0 + minutes(5))
    assert len([lv for lv, _ in _levels(store, incident_id) if lv == 2]) == 1
    # the same news twice changes nothing
    assert store.run([NotReached(incident_id, 0, 0, failures)], T0 + minutes(3)).decisions == []


def test_not_reached_for_a_level_already_left_or_acknowledged_does_nothing() -> None:
    store = Store()
    incident_id = _open(store)
    store.tick(T0 + minutes(5))  # level 2 paged on time
    assert store.run([NotReached(incident_id, 0, 0, ("x",))], T0 + minutes(6)).decisions == []
    store.act(incident_id, "acknowledge", T0 + minutes(7))
    assert store.run([NotReached(incident_id, 0, 1, ("x",))], T0 + minutes(8)).decisions == []


def _page(page_id: str, status: str | None = "undelivered") -> PageState:
    return PageState(page_id, status, "sms", None)


def test_unreached_levels_needs_every_page_failed_for_good() -> None:
    """A page without a result (held for a delay, in flight) keeps its level waiting; a failure counts even when it
    came back before the router marked its page published."""
    level = ["i1:0:1:alice:alice-hook", "i1:0:1:alice:alice-sms"]
    assert unreached_levels([_page(level[0], status="failed"), _page(level[1])]) == [
        NotReached("i1", 0, 0, ("alice not reached: sms failed", "alice not reached: sms undelivered"))
    ]
    assert unreached_levels([_page(level[0], status="failed"), _page(level[1], status="delivered")]) == []
    assert unreached_levels([_page(level[0], status="failed"), _page(level[1], status=None)]) == []
    assert unreached_levels([_page("i1:acknowledged:0:alice:alice-hook")]) == []


def test_those_paged_are_told_of_the_acknowledgement_but_not_the_one_who_acted() -> None:
    store = Store()
    incident_id = _open(store)
    store.tick(T0 + minutes(5))  # bob paged too
    store.act(incident_id, "acknowledge", T0 + minutes(6), by="bob")
    incident = store.incidents[incident_id]
    updates = update_pages(CONFIG, incident, store.pages_for(incident_id), "bob", "d1", T0 + minutes(6))
    assert {(p.user_id, p.contact_method.id, p.kind) for p in updates} == {
        ("alice", "alice-hook", PageKind.ACKNOWLEDGED),
        ("alice", "alice-sms", PageKind.ACKNOWLEDGED),
    }
    muted = _changed("users", "alice", status_updates=False)
    assert update_pages(muted, incident, store.pages_for(incident_id), "bob", "d1", T0 + minutes(6)) == []


def test_notices_go_to_the_address_a_reload_gave_the_contact_method_slack_excepted() -> None:
    """An acknowledgement notice copied the trigger's address: after a reload changed alice's number (a lost phone,
    a number handed back), the incident's news went to the old one."""
    methods = [m.model_dump() for m in CONFIG.config.users_by_id["alice"].contact_methods]
    methods.append({"id": "alice-slack", "type": "slack", "address": "C0OLDCHAN"})
    rules = [*CONFIG.config.users_by_id["alice"].model_dump()["notification_rules"], {"contact_method": "alice-slack"}]
    store = Store(config=_changed("users", "alice", contact_methods=methods, notification_rules=rules))
    incident_id = _open(store)
    store.act(incident_id, "acknowledge", T0 + minutes(6), by="bob")
    new_address = {"webhook": "https://hooks.example.com/new", "sms": "+15550001111", "slack": "C0NEWCHAN"}
    moved = [m | {"address": new_address[m["type"]]} for m in methods]
    reloaded = _changed("users", "alice", contact_methods=moved, notification_rules=rules)
    updates = update_pages(reloaded, store.incidents[incident_id], store.pages_for(incident_id), "bob", "d1", T0)
    assert {p.contact_method.id: p.contact_method.address for p in updates} == {
        "alice-hook": "https://hooks.example.com/new",
        "alice-sms": "+15550001111",
        "alice-slack": "C0OLDCHAN",  # its notice edits the message posted there
    }


def test_an_acknowledgement_after_an_escalation_is_news_again() -> None:
    """Acknowledge, escalate now (back to triggered, level 2 paged), acknowledge again: the second notices had the
    first ones' ids, so the outbox dropped them and alice never heard of the second acknowledgement."""
    store = Store()
    incident_id = _open(store)
    store.act(incident_id, "acknowledge", T0 + minutes(1), by="bob")
    first = update_pages(CONFIG, store.incidents[incident_id], store.pages_for(incident_id), "bob", "d1", T0)
    store.act(incident_id, "escalate", T0 + minutes(2), by="alice")
    store.act(incident_id, "acknowledge", T0 + minutes(3), by="bob")
    incident = store.incidents[incident_id]
    second = update_pages(CONFIG, incident, store.pages_for(incident_id), "bob", "d2", T0 + minutes(3))
    assert {p.user_id for p in first} == {p.user_id for p in second} == {"alice"}
    assert not {p.page_id for p in first} & {p.page_id for p in second}
    repeated = update_pages(CONFIG, incident, store.pages_for(incident_id), "bob", "d2", T0 + minutes(3))
    assert [p.page_id for p in repeated] == [p.page_id for p in second]  # the same decision gives the same ids


def test_an_acknowledgement_after_an_escalation_that_reached_nobody_is_news_again() -> None:
    """Escalate now to an empty level pages nobody, so the position last paged stays: the second acknowledgement's
    notices had the first one's ids and were dropped, and bob never heard of it."""
    store = Store()
    store.run([event("b", service="backstop")], T0)  # bob at level 1; level 2 reaches nobody before 2090
    incident_id = store.last("b").incident_id or ""
    store.act(incident_id, "acknowledge", T0 + minutes(1), by="alice")
    first = update_pages(CONFIG, store.incidents[incident_id], store.pages_for(incident_id), "alice", "d1", T0)
    store.act(incident_id, "escalate", T0 + minutes(2), by="alice")
    assert store.decisions[-1].outcome is Outcome.NOBODY_ON_CALL
    store.act(incident_id, "acknowledge", T0 + minutes(3), by="alice")
    second = update_pages(CONFIG, store.incidents[incident_id], store.pages_for(incident_id), "alice", "d2", T0)
    assert {p.user_id for p in first} == {p.user_id for p in second} == {"bob"}
    assert not {p.page_id for p in first} & {p.page_id for p in second}


def _escalation_updates(store: Store, effects: Effects, at: datetime) -> list[Page]:
    """What ``work.py`` does with the effects: the escalation updates built from the pages already published."""
    (escalated,) = effects.escalations
    incident = store.incidents[escalated.incident_id]
    published = [
        p for p in store.pages_for(incident.id) if p.send_at <= at and p.escalation_level < escalated.level + 1
    ]
    return escalation_updates(store.config, incident, published, escalated, at)


def test_those_paged_before_hear_of_an_escalation_by_the_timer() -> None:
    store = Store()
    incident_id = _open(store)
    effects = store.run([store.pending_steps[f"{incident_id}:0:1"]], T0 + minutes(5))
    (escalated,) = effects.escalations
    assert (escalated.level, escalated.paged, escalated.by) == (1, ("bob",), "")
    assert escalated.note == "escalated to level 2: bob paged"
    updates = _escalation_updates(store, effects, T0 + minutes(5))
    assert {(p.user_id, p.contact_method.id, p.kind, p.escalation_level) for p in updates} == {
        ("alice", "alice-hook", PageKind.ESCALATED, 1),  # the level alice was paged at; the note names the new one
        ("alice", "alice-sms", PageKind.ESCALATED, 1),
    }
    assert {p.status_note for p in updates} == {"escalated to level 2: bob paged"}
    assert len({p.page_id for p in updates}) == 2 and all(":escalated:0:2:alice:" in p.page_id for p in updates)
    # a page id names no escalation position, so a level that reached nobody is never judged on its updates
    assert unreached_levels([_page(p.page_id) for p in updates]) == []


def test_an_escalation_by_a_person_is_not_told_to_them_nor_to_those_who_opted_out() -> None:
    store = Store()
    incident_id = _open(store)
    effects = store.act(incident_id, "escalate", T0 + minutes(1), by="alice")
    assert effects.escalations[0].note == "alice escalated to level 2: bob paged"
    assert _escalation_updates(store, effects, T0 + minutes(1)) == []  # alice escalated: she knows

    store = Store(config=_changed("users", "alice", status_updates=False))
    incident_id = _open(store)
    effects = store.run([store.pending_steps[f"{incident_id}:0:1"]], T0 + minutes(5))
    assert _escalation_updates(store, effects, T0 + minutes(5)) == []


def test_a_level_that_reached_nobody_and_a_repeat_round_announce_the_escalation() -> None:
    store = Store()
    incident_id = _open(store)
    effects = store.run([NotReached(incident_id, 0, 0, ("alice not reached: sms undelivered",))], T0 + minutes(3))
    assert [e.note for e in effects.escalations] == ["escalated to level 2: bob paged"]
    # level 2 times out: round 2 pages alice again; bob (paged before) is told, alice's new trigger is her news
    effects = store.run([store.pending_steps[f"{incident_id}:1:0"]], T0 + minutes(13))
    (escalated,) = effects.escalations
    assert (escalated.round, escalated.level, escalated.paged) == (1, 0, ("alice",))
    incident = store.incidents[incident_id]
    updates = escalation_updates(store.config, incident, store.pages_for(incident_id), escalated, T0 + minutes(13))
    assert {(p.user_id, p.kind) for p in updates} == {("bob", PageKind.ESCALATED)}


def test_an_acknowledged_incident_and_the_first_page_announce_no_escalation() -> None:
    store = Store()
    assert store.run([event("a")], T0).escalations == []
    incident_id = store.last("a").incident_id or ""
    store.act(incident_id, "acknowledge", T0 + minutes(1))
    assert store.run([Step(incident_id, 0, 1, T0 + minutes(5))], T0 + minutes(5)).escalations == []


def test_a_step_for_a_level_a_reload_removed_pages_the_policy_s_last_level() -> None:
    """The step for level 2 was pending when a reload left the policy one level: deciding it raised IndexError,
    and the failing timer pass held up every other escalation."""
    store = Store()
    incident_id = _open(store)
    first_pages = {p.page_id for p in store.pages_for(incident_id)}
    policy = next(p for p in CONFIG.config.escalation_policies if p.id == "payments-default")
    store.config = _changed("escalation_policies", "payments-default", levels=[policy.levels[0].model_dump()])
    store.tick(T0 + minutes(5))
    decision = store.decisions[-1]
    assert decision.outcome is Outcome.PAGED and decision.level == 1
    assert decision.explanation["level_removed"] == {"level": 2, "levels_now": 1}
    # pages of their own: the same ids as level 1's first pages went nowhere (the outbox and the notifier keep one)
    again = [p for p in store.pages_for(incident_id) if p.page_id not in first_pages]
    assert again and {p.user_id for p in again} == {"alice"}
    assert sorted(decision.explanation["pages"]) == sorted(p.page_id for p in again)


def test_a_step_for_a_removed_level_of_a_policy_without_repeats_still_pages() -> None:
    """With no repeat, the stand-in page was the only thing the step did: under the ids of level 1's first pages, it
    went nowhere, and the incident was left with no step, its later triggers duplicates."""
    store = Store()
    incident_id = _open(store)
    first_pages = {p.page_id for p in store.pages_for(incident_id)}
    policy = next(p for p in CONFIG.config.escalation_policies if p.id == "payments-default")
    store.config = _changed("escalation_policies", "payments-default", levels=[policy.levels[0].model_dump()], repeat=0)
    store.tick(T0 + minutes(5))
    assert store.decisions[-1].outcome is Outcome.PAGED
    assert [p for p in store.pages_for(incident_id) if p.page_id not in first_pages]


def _without_payments_default(service_policy: str | None) -> LoadedConfig:
    """A reload that removed payments-default: its services now use ``service_policy`` (None: they are gone)."""
    document = CONFIG.config.model_dump()
    document["escalation_policies"] = [p for p in document["escalation_policies"] if p["id"] != "payments-default"]
    users = [s for s in document["services"] if s["escalation_policy"] == "payments-default"]
    for service in users:
        service["escalation_policy"] = service_policy
    if service_policy is None:
        gone = {s["id"] for s in users}
        document["services"] = [s for s in document["services"] if s["id"] not in gone]
        document["route_rules"] = [r for r in document["route_rules"] if r["service"] not in gone]
    config = type(CONFIG.config).model_validate(document)
    return LoadedConfig(config, "reloaded", CONFIG.loaded_at, CONFIG.files, CONFIG.integration_keys)


def test_a_snooze_running_out_after_its_policy_was_removed_pages_through_the_service_s_policy() -> None:
    """It stayed acknowledged and paged nobody: the snooze, meant to page again, was lost with the policy."""
    store = Store()
    incident_id = _open(store)
    store.act(incident_id, "snooze", T0 + minutes(1), minutes=30)
    store.config = _without_payments_default("skip-first")
    store.tick(T0 + minutes(31))
    decision = store.decisions[-1]
    assert decision.outcome is Outcome.PAGED
    assert "policy payments-default no longer exists, continuing with skip-first" in decision.reason
    assert decision.explanation["policy_replaced"] == {"was": "payments-default", "now": "skip-first"}
    assert store.incidents[incident_id].policy_id == "skip-first"
    assert (2, "bob") in _levels(store, incident_id)


def test_a_snooze_running_out_with_no_policy_left_is_tried_again_until_a_rollback_restores_one() -> None:
    """It raised KeyError on every timer pass, which stopped every snooze, heartbeat and reminder after it; then it
    was dropped (the incident acknowledged for good, even once the reload was rolled back). It is tried again every
    few minutes, as a level that reached nobody is, not at every pass."""
    store = Store()
    incident_id = _open(store)
    store.act(incident_id, "snooze", T0 + minutes(1), minutes=30)
    store.config = _without_payments_default(None)
    store.tick(T0 + minutes(31))
    decision = store.decisions[-1]
    assert decision.outcome is Outcome.NOBODY_ON_CALL
    assert "policy payments-default no longer exists" in decision.reason and "nobody paged" in decision.reason
    incident = store.incidents[incident_id]
    assert incident.status is IncidentStatus.ACKNOWLEDGED and incident.retrigger_at == T0 + minutes(36)
    count = len(store.decisions)
    store.tick(T0 + minutes(33))
    assert len(store.decisions) == count  # not at every pass
    store.config = CONFIG  # rolled back
    store.tick(T0 + minutes(36))
    assert store.decisions[-1].outcome is Outcome.PAGED
    assert store.incidents[incident_id].status is IncidentStatus.TRIGGERED


def test_a_step_after_its_policy_was_renamed_escalates_through_the_service_s_policy() -> None:
    """The step decided "policy no longer exists" and scheduled nothing; the incident stayed triggered, so the
    alert's later triggers were duplicates of it and nobody else was ever paged."""
    store = Store()
    incident_id = _open(store)
    store.config = _without_payments_default("skip-first")
    store.tick(T0 + minutes(5))
    decision = store.decisions[-1]
    assert decision.outcome is Outcome.PAGED and decision.policy_id == "skip-first"
    assert decision.reason.startswith("not acknowledged in time: policy payments-default no longer exists")
    assert (2, "bob") in _levels(store, incident_id)


def test_an_incident_nobody_is_reachable_for_tries_again_until_someone_is() -> None:
    """It stayed triggered with no step: the alert's later triggers were duplicates of it, so nobody was ever paged
    once someone came on call (the rule: no path that does not page may swallow a later live alert)."""
    store = Store()
    effects = store.run([event("n", service="unstaffed")], T0)
    incident_id = store.last("n").incident_id or ""
    assert store.last("n").outcome is Outcome.NOBODY_ON_CALL
    assert [(s.level, s.due_at) for s in effects.steps] == [(0, T0 + minutes(5))]
    assert f"trying level 1 again at {(T0 + minutes(5)).isoformat()}" in store.last("n").reason
    store.run([event("n", service="unstaffed", at=T0 + minutes(3))], T0 + minutes(3))
    assert store.last("n").outcome is Outcome.DUPLICATE
    store.tick(T0 + minutes(5))
    retried = store.decisions[-1]
    assert retried.outcome is Outcome.NOBODY_ON_CALL and store.pages == []
    coverage = datetime(2090, 1, 1, 0, 1, tzinfo=T0.tzinfo)  # the schedule's first shift has begun: carol
    store.tick(coverage)
    reached = store.decisions[-1]
    assert reached.outcome is Outcome.PAGED and reached.reason.startswith("nobody was reachable, trying again: paged")
    assert {p.user_id for p in store.pages_for(incident_id)} == {"carol"}
    store.act(incident_id, "acknowledge", coverage + minutes(1), by="carol")
    assert store.pending_steps == {}


def test_the_preview_skips_a_level_that_reaches_nobody_at_once_as_the_live_path_does() -> None:
    """It added the empty level's delay, so the preview and silent drills named a later instant (and near a
    handoff, a different person) than the page that would go out."""
    steps = escalation.timeline(CONFIG, "skip-first", T0)
    assert [(s["level"], s["reaches_anyone"], s["at"]) for s in steps[:2]] == [
        (1, False, T0.isoformat()),
        (2, True, T0.isoformat()),
    ]
    store = Store()
    store.run([event("s", service="skipper")], T0)
    assert store.last("s").level == 2  # the live path: level 2 paged at T0


COVERAGE = datetime(2090, 1, 1, 0, 1, tzinfo=T0.tzinfo)  # future-only's first shift has begun: carol


def test_a_new_cycle_after_nobody_was_reachable_escalates_at_new_positions() -> None:
    """Bob, then an empty level: its retries are steps of rounds 1 and 2. Bob acknowledges; the acknowledgement
    times out and a new cycle pages him again. The cycle was numbered from the last round paged (0), so its step
    for level 2 landed on the retry's position (1, 1), which the step table already held: dropped, and nobody
    else was ever paged."""
    store = Store()
    store.run([event("b", service="backstop")], T0)
    incident_id = store.last("b").incident_id or ""
    store.tick(T0 + minutes(5))
    store.tick(T0 + minutes(10))
    assert [(s.round, s.level) for s in store.pending_steps.values()] == [(2, 1)]  # a round past every step
    store.act(incident_id, "acknowledge", T0 + minutes(12), by="bob")
    store.tick(T0 + minutes(42))  # the policy's 30-minute acknowledgement timeout: bob again
    assert store.incidents[incident_id].status is IncidentStatus.TRIGGERED
    assert [(s.round, s.level) for s in store.pending_steps.values()] == [(3, 1)]
    store.tick(COVERAGE)
    assert "carol" in {p.user_id for p in store.pages_for(incident_id)}


def test_escalate_now_while_a_retry_waits_keeps_trying() -> None:
    """Escalate now cancelled the waiting retry (round 1) and, reaching nobody again, scheduled its own retry at
    the same position: dropped, so the incident never escalated again."""
    store = Store()
    store.run([event("e", service="backstop")], T0)
    incident_id = store.last("e").incident_id or ""
    store.tick(T0 + minutes(5))
    store.act(incident_id, "escalate", T0 + minutes(7), by="bob")
    assert "trying level 2 again" in store.decisions[-1].reason
    assert [(s.round, s.level) for s in store.pending_steps.values()] == [(2, 1)]
    store.tick(COVERAGE)
    assert "carol" in {p.user_id for p in store.pages_for(incident_id)}
