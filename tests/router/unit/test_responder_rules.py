"""Notes, reassigning and adding a responder, through ``decide`` (no database)."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from alertrouter_router.decisions import DecisionKind, Outcome
from alertrouter_router.decisions.decide import Effects, ManualAction
from alertrouter_router.decisions.incidents import IncidentStatus
from tests.router.unit.decide_support import T0, Store, event, minutes


def _open(store: Store) -> str:
    store.run([event("a")], T0)
    return store.last("a").incident_id or ""


def _targeted(
    store: Store,
    incident_id: str,
    action: Literal["reassign", "add_responder"],
    kind: Literal["user", "schedule"],
    to: str,
) -> Effects:
    return store.run([ManualAction(incident_id, action, "bob", "please look", target=(kind, to))], T0 + minutes(1))


def test_a_note_is_a_decision_of_its_own_and_changes_nothing_else() -> None:
    store = Store()
    incident_id = _open(store)
    pages, steps = len(store.pages), dict(store.pending_steps)
    effects = store.run([ManualAction(incident_id, "note", "bob", "db failover in progress")], T0 + minutes(1))
    [decision] = effects.decisions
    assert decision.kind is DecisionKind.MANUAL and decision.outcome is Outcome.NOTED
    assert decision.reason == "note by bob: db failover in progress"
    assert decision.explanation["by"] == "bob" and decision.incident_id == incident_id
    assert len(store.pages) == pages and store.pending_steps == steps and not effects.incidents


def test_notes_are_accepted_on_a_resolved_incident() -> None:
    store = Store()
    incident_id = _open(store)
    store.act(incident_id, "resolve", T0 + minutes(1))
    effects = store.run([ManualAction(incident_id, "note", "bob", "root cause: expired cert")], T0 + minutes(9))
    assert [d.outcome for d in effects.decisions] == [Outcome.NOTED]


def test_reassign_pages_the_person_now_and_escalates_from_there_if_unanswered() -> None:
    store = Store()
    incident_id = _open(store)
    store.act(incident_id, "acknowledge", T0 + minutes(1))
    effects = _targeted(store, incident_id, "reassign", "user", "carol")
    [decision] = effects.decisions
    assert decision.outcome is Outcome.PAGED
    assert decision.reason == "reassigned by bob (please look): paged carol"
    assert decision.explanation["assignee"] == {"type": "user", "id": "carol"}
    [page] = effects.pages
    assert page.user_id == "carol" and ":reassign:" in page.page_id and page.send_at == T0 + minutes(1)
    incident = store.incidents[incident_id]
    assert incident.status is IncidentStatus.TRIGGERED and incident.acknowledged_by is None
    # nobody acknowledges: level 2 (bob) is paged after level 1's five minutes, in the new cycle
    [step] = store.pending_steps.values()
    assert (step.level, step.due_at) == (1, T0 + minutes(6))
    store.tick(T0 + minutes(6))
    assert store.decisions[-1].reason.startswith("not acknowledged in time: paged level 2")
    assert store.pages[-1].user_id == "bob"


def test_adding_a_responder_from_a_schedule_pages_who_is_on_call_and_keeps_the_acknowledgement() -> None:
    store = Store()
    incident_id = _open(store)
    store.act(incident_id, "acknowledge", T0 + minutes(1))
    effects = _targeted(store, incident_id, "add_responder", "schedule", "payments-primary")
    [decision] = effects.decisions
    assert decision.outcome is Outcome.PAGED and decision.reason.endswith("paged alice")
    assert decision.explanation["targets"][0]["selected_by"]["layer"] == "weekly"
    assert {p.user_id for p in effects.pages} == {"alice"}
    assert all(":add_responder:" in p.page_id for p in effects.pages)
    assert store.incidents[incident_id].status is IncidentStatus.ACKNOWLEDGED
    assert not store.pending_steps


def test_reassigning_to_a_schedule_with_nobody_on_call_changes_nothing_and_says_so() -> None:
    store = Store()
    incident_id = _open(store)
    before = store.incidents[incident_id]
    effects = _targeted(store, incident_id, "reassign", "schedule", "future-only")
    [decision] = effects.decisions
    assert decision.outcome is Outcome.NOBODY_ON_CALL
    assert decision.reason.endswith("schedule future-only: nobody is on call")
    assert not effects.pages and store.incidents[incident_id] == before


def test_reassign_after_a_reload_removed_the_level_last_paged() -> None:
    """Paged at level 2, then a reload left the policy one level: reassigning read that level's delay and raised
    IndexError (the API answered 500 and the person was not paged)."""
    store = Store()
    incident_id = _open(store)
    store.tick(T0 + minutes(5))  # level 2 (bob) is paged
    assert store.incidents[incident_id].last_level == 1
    policy = next(p for p in store.config.config.escalation_policies if p.id == "payments-default")
    document = store.config.config.model_dump()
    for item in document["escalation_policies"]:
        if item["id"] == "payments-default":
            item["levels"] = [policy.levels[0].model_dump()]
    store.config = replace(store.config, config=type(store.config.config).model_validate(document))
    effects = store.run([ManualAction(incident_id, "reassign", "bob", "", target=("user", "carol"))], T0 + minutes(6))
    [decision] = effects.decisions
    assert decision.outcome is Outcome.PAGED and [p.user_id for p in effects.pages] == ["carol"]
    [step] = store.pending_steps.values()
    assert step.due_at == T0 + minutes(11)  # the delay of the policy's last level, the one left
