"""The decision paragraph (``explain_text``) of decisions made by ``decide`` on paths other than a policy's level:
a person's reassignment or added responder, someone with no way to be reached, a trigger read from a backlog."""

from __future__ import annotations

import re
from dataclasses import replace

from alertrouter_router.decisions import DecisionKind, Outcome
from alertrouter_router.decisions.decide import ManualAction
from alertrouter_router.decisions.explain import explain_text
from alertrouter_router.ownership.loader import LoadedConfig
from tests.router.unit.decide_support import CONFIG, T0, Store, decision_row, event, minutes


def _with_dave() -> LoadedConfig:
    """The test configuration plus dave, of team payments, with a contact method but no notification rule."""
    document = CONFIG.config.model_dump()
    dave = {"id": "dave-hook", "type": "webhook", "address": "http://127.0.0.1:9/hooks/dave"}
    document["users"].append(
        {"id": "dave", "name": "Dave Example", "time_zone": "UTC", "contact_methods": [dave], "notification_rules": []}
    )
    document["teams"][0]["members"].append("dave")
    config = type(CONFIG.config).model_validate(document)
    return LoadedConfig(config, CONFIG.version, CONFIG.loaded_at, CONFIG.files, CONFIG.integration_keys)


def _targeted(store: Store, action: str, kind: str, to: str) -> str:
    store.run([event("a")], T0)
    incident_id = store.last("a").incident_id or ""
    [decision] = store.run(
        [ManualAction(incident_id, action, "bob", None, target=(kind, to))],  # type: ignore[arg-type]
        T0 + minutes(1),
    ).decisions
    return explain_text(decision_row(decision))


def test_a_person_chosen_by_a_reassignment_is_not_said_to_be_named_by_the_policy() -> None:
    """carol was paged because bob reassigned the incident to her: the paragraph said "named directly in the
    policy", and payments-default names her nowhere."""
    text = _targeted(Store(), "reassign", "user", "carol")
    assert "Paged: Carol Example (carol), bob reassigned the incident to them, notified by webhook at" in text
    assert "policy" not in text.split("Paged:")[1], text
    text = _targeted(Store(), "add_responder", "user", "carol")
    assert "Paged: Carol Example (carol), bob added them as a responder, notified by webhook at" in text
    text = _targeted(Store(), "add_responder", "schedule", "payments-primary")
    assert (
        "Paged: Alice Example (alice), on call in schedule payments-primary (layer weekly), the schedule bob added "
        "as a responder, notified by webhook at"
    ) in text


def test_a_responder_nobody_could_reach_is_not_said_to_be_paged() -> None:
    """Adding dave, who has no notification rule, paged nobody: the paragraph said "Paged: Dave Example (dave), …,
    notified by no contact method" under an outcome of nobody_on_call."""
    store = Store(config=_with_dave())
    text = _targeted(store, "add_responder", "user", "dave")
    assert store.decisions[-1].outcome is Outcome.NOBODY_ON_CALL
    assert "Paged:" not in text, text
    assert (
        "Not paged, no contact method with a notification rule: Dave Example (dave), bob added them as a responder."
    ) in text


def test_a_level_names_apart_the_members_it_could_not_reach() -> None:
    """A team target pages its members who have a notification rule; the others were not paged."""
    document = _with_dave().config.model_dump()
    document["escalation_policies"][0]["levels"][0]["targets"] = [{"type": "team", "id": "payments"}]
    config = type(CONFIG.config).model_validate(document)
    store = Store(config=LoadedConfig(config, CONFIG.version, CONFIG.loaded_at, CONFIG.files, {}))
    store.run([event("a")], T0)
    text = explain_text(decision_row(store.last("a")))
    paged, _, not_paged = text.partition("Not paged, no contact method with a notification rule: ")
    assert "Alice Example (alice), a member of team payments, notified by webhook" in paged
    assert "dave" not in paged
    assert not_paged.startswith("Dave Example (dave), a member of team payments.")


def test_a_trigger_read_from_a_backlog_arrived_when_ingest_received_it() -> None:
    """Decided 30 minutes after ingest received it (a router catching up), the trigger is held back as stale:
    the paragraph said it "arrived at" the decision's time, beside a reason saying it was received 1800 s before."""
    store = Store()
    store.run([event("late", at=T0, received=T0)], T0 + minutes(30))
    decision = store.last("late")
    assert decision.outcome is Outcome.SUPPRESSED
    row = decision_row(decision) | {"created_at": T0 + minutes(30)}  # the database stamps the decision's time
    text = explain_text(row)
    assert "arrived at 2026-03-02 10:00:00 UTC and was decided at 2026-03-02 10:30:00 UTC with summary" in text
    assert "event was received 1800s ago" in text
    fresh = decision_row(store.run([event("now", at=T0 + minutes(30))], T0 + minutes(30)).decisions[0])
    assert "arrived at 2026-03-02 10:30:00 UTC with summary" in explain_text(fresh | {"created_at": T0 + minutes(30)})


def test_instants_in_the_reason_read_like_every_other_time_of_the_paragraph() -> None:
    """A snooze's reason is stored with an ISO 8601 instant; the paragraph, whose times all read "… UTC" to the
    second, said "paged again at 2026-03-02T10:51:00+00:00"."""
    store = Store()
    store.run([event("a")], T0)
    incident_id = store.last("a").incident_id or ""
    [snooze] = store.act(incident_id, "snooze", T0 + minutes(1), minutes=10).decisions
    assert "2026-03-02T10:11:00+00:00" in snooze.reason  # the API's reason keeps ISO 8601
    text = explain_text(decision_row(snooze))
    assert "snoozed by bob; paged again at 2026-03-02 10:11:00 UTC unless resolved." in text
    assert not re.search(r"\d{4}-\d\d-\d\dT\d", text), text
    not_instants = decision_row(snooze) | {"reason": "until 2026-12-07T03:15:00.250Z, then 2026-13-99T99:99:00Z"}
    assert "until 2026-12-07 03:15:00 UTC, then 2026-13-99T99:99:00Z." in explain_text(not_instants)


def test_a_recheck_says_where_the_alert_is_routed_now() -> None:
    """An alert no rule routed pages once a reload adds a rule: the paragraph said it was looked at again and who
    was paged, but not which rule now routes it, to which service, team and policy."""
    store = Store()
    store.run([event("billing-1", service="billing")], T0)
    document = CONFIG.config.model_dump()
    document["route_rules"].append(
        {"id": "billing", "service": "checkout", "match": [{"label": "service", "op": "=", "value": "billing"}]}
    )
    config = type(CONFIG.config).model_validate(document)
    store.config = LoadedConfig(config, "with-billing", CONFIG.loaded_at, CONFIG.files, CONFIG.integration_keys)
    store.alerts["billing-1"] = replace(store.alerts["billing-1"], recheck_at=T0 + minutes(10))
    store.tick(T0 + minutes(10))
    decision = store.last("billing-1")
    assert decision.kind is DecisionKind.RECHECK and decision.outcome is Outcome.PAGED
    text = explain_text(decision_row(decision))
    assert "held back by no_route, was looked at again at" in text
    assert (
        "It is now routed to service checkout (team payments, policy payments-default) because rule 'billing' "
        "matched: service = 'billing' (was 'billing')."
    ) in text


def test_a_last_level_that_reaches_nobody_does_not_say_no_level_does() -> None:
    """Policy then-nobody pages bob at level 1, then a schedule nobody staffs yet, with no repeat: its step for
    level 2 reached nobody and the reason said "no level of policy then-nobody reaches anyone right now", while
    bob of level 1, on call and paged five minutes before, was never looked at."""
    store = Store()
    store.run([event("b", service="backstop")], T0)
    store.tick(T0 + minutes(5))
    decision = store.decisions[-1]
    assert decision.outcome is Outcome.NOBODY_ON_CALL
    assert decision.reason == (
        "not acknowledged in time: level 2 of policy then-nobody: nobody reachable right now, and no level follows "
        "in this cycle; trying level 2 again at 2026-03-02T10:10:00+00:00"
    )
    store.run([event("u", service="unstaffed")], T0)  # from level 1 every level is tried: "no level" is true
    assert store.last("u").reason.startswith("no level of policy nobody reaches anyone right now; trying level 1")
