"""A paging drill ends on its own at its time limit (no database): whatever state its incident is in, the drill's
end resolves it and stops its escalation, once; a real incident is never touched."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from alertrouter_router import drills
from alertrouter_router.decisions import Outcome
from alertrouter_router.decisions.alerts import AlertStatus
from alertrouter_router.decisions.decide import DrillEnd, ManualAction
from alertrouter_router.decisions.escalation import Step
from alertrouter_router.decisions.incidents import DRILL_TIME_LIMIT, IncidentStatus
from alertrouter_router.decisions.paging import update_pages
from alertrouter_shared.events import AlertEvent, PageKind
from tests.router.unit.decide_support import CONFIG, T0, Store, event, minutes


def _drill(service: str = "checkout", at: datetime = T0, limit: int = 30, run_id: str | None = None) -> AlertEvent:
    """The drill's alert exactly as the API raises it (``drills.new_run`` then ``drills.drill_alert``)."""
    run = drills.new_run(service, "carol", "", at, silent=False, minutes=limit, run_id=run_id)
    return drills.drill_alert(run, CONFIG.services_by_id[service].name)


def _start(store: Store, service: str = "checkout", limit: int = 30) -> tuple[str, str]:
    alert = _drill(service, limit=limit)
    store.run([alert], T0)
    incident_id = store.last(alert.dedup_key).incident_id
    assert incident_id is not None and store.incidents[incident_id].drill
    return alert.dedup_key, incident_id


def _triggers(store: Store, incident_id: str) -> list[tuple[int, str, datetime]]:
    return [
        (p.escalation_level, p.user_id, p.created_at)
        for p in store.pages_for(incident_id)
        if p.kind is PageKind.TRIGGER
    ]


def _walk(store: Store, until: float) -> None:
    """The timer loop once a minute from T0 to ``until`` minutes."""
    for minute in range(1, int(until) + 1):
        store.tick(T0 + minutes(minute))


# service, limit (minutes), what people do (minute, action, extra), when we look, the incident's status then, the
# drill-end decision's reason (None: no drill-end decision), resolved by
CASES = [
    pytest.param(
        "checkout", 30, [], 29, "triggered", None, None, id="before its time limit the drill goes on escalating"
    ),
    pytest.param(
        "checkout",
        30,
        [],
        30,
        "resolved",
        "nobody acknowledged it",
        DRILL_TIME_LIMIT,
        id="unanswered: resolved at the limit, after cycling through the policy",
    ),
    pytest.param(
        "checkout",
        30,
        [(1, "acknowledge", {})],
        45,
        "resolved",
        "acknowledged by bob but not resolved",
        DRILL_TIME_LIMIT,
        id="acknowledged and left open",
    ),
    pytest.param(
        "checkout",
        30,
        [(1, "snooze", {"minutes": 60})],
        90,
        "resolved",
        "acknowledged by bob but not resolved",
        DRILL_TIME_LIMIT,
        id="snoozed past the limit: never paged again",
    ),
    pytest.param(
        "checkout", 30, [(3, "resolve", {})], 60, "resolved", None, "bob", id="resolved by a person: nothing more"
    ),
    pytest.param(
        "unstaffed",
        30,
        [],
        120,
        "resolved",
        "nobody acknowledged it",
        DRILL_TIME_LIMIT,
        id="nobody on call: the retries every 5 minutes stop at the limit",
    ),
    pytest.param(
        "checkout", 1, [], 1, "resolved", "nobody acknowledged it", DRILL_TIME_LIMIT, id="the shortest limit, 1 minute"
    ),
]


@pytest.mark.parametrize(("service", "limit", "actions", "look_at", "status", "reason", "resolved_by"), CASES)
def test_a_drill_ends_at_its_time_limit(
    service: str,
    limit: int,
    actions: list[tuple[int, str, dict[str, int]]],
    look_at: int,
    status: str,
    reason: str | None,
    resolved_by: str | None,
) -> None:
    store = Store()
    key, incident_id = _start(store, service, limit)
    for minute in range(1, look_at + 1):
        for at, action, extra in actions:
            if at == minute:
                store.act(incident_id, action, T0 + minutes(minute), "bob", **extra)
        store.tick(T0 + minutes(minute))
    incident = store.incidents[incident_id]
    assert (incident.status.value, incident.resolved_by) == (status, resolved_by)
    ended = [d for d in store.decisions if d.step_key == f"{incident_id}:drill-end"]
    if reason is None:
        assert ended == []
        return
    [decision] = ended  # once, however often the timer looks again
    assert decision.outcome is Outcome.RESOLVED and decision.incident_id == incident_id
    limit_at = (T0 + minutes(limit)).isoformat()
    assert decision.reason.startswith(f"drill ended: time limit ({limit_at}) reached; {reason}")
    assert decision.explanation["drill_ended"]["reason"] == "time limit"
    assert incident.resolved_at == T0 + minutes(limit)
    assert store.alerts[key].status is AlertStatus.RESOLVED
    assert [s for s in store.pending_steps.values() if s.incident_id == incident_id] == []
    paged = len(_triggers(store, incident_id))
    _walk(store, look_at + 120)  # two more hours: the drill pages nobody again
    assert len(_triggers(store, incident_id)) == paged
    assert [d for d in store.decisions if d.incident_id == incident_id][-1] is decision
    assert all(at <= T0 + minutes(limit) for _, _, at in _triggers(store, incident_id))


def test_a_real_incident_is_never_ended_as_a_drill() -> None:
    """Only an incident marked drill with an end is ever ended, even one claimed by mistake; a real alert of the
    same service, open at the same time, escalates on as usual."""
    store = Store()
    _, drill_id = _start(store)
    store.run([event("real")], T0)
    real_id = store.last("real").incident_id or ""
    forged = replace(store.incidents[real_id], drill_ends_at=T0 + minutes(1))  # not a drill: the end means nothing
    store.incidents[real_id] = forged
    effects = store.run([DrillEnd(real_id)], T0 + minutes(2))
    assert effects.decisions == [] and effects.incidents == {}
    _walk(store, 31)
    assert store.incidents[drill_id].status is IncidentStatus.RESOLVED
    assert store.incidents[real_id].status is IncidentStatus.TRIGGERED and store.incidents[real_id].resolved_by is None
    assert (2, "bob") in [(level, user) for level, user, _ in _triggers(store, real_id)]  # it escalated past the drill


def test_a_drill_end_before_its_time_does_nothing() -> None:
    store = Store()
    _, incident_id = _start(store)
    effects = store.run([DrillEnd(incident_id)], T0 + minutes(29))
    assert effects.decisions == [] and store.incidents[incident_id].status is IncidentStatus.TRIGGERED


def test_a_step_or_a_snooze_due_past_the_limit_pages_nobody() -> None:
    """Whatever the timer passes' order, a drill past its limit is not paged further (its end resolves it)."""
    store = Store()
    _, incident_id = _start(store)
    before = len(_triggers(store, incident_id))
    effects = store.run([Step(incident_id, 0, 1, T0 + minutes(5))], T0 + minutes(31))
    assert effects.pages == [] and effects.decisions == [] and [s.key for s in effects.fired] == [f"{incident_id}:0:1"]
    store.act(incident_id, "snooze", T0 + minutes(20), minutes=15)
    store.tick(T0 + minutes(35))
    assert len(_triggers(store, incident_id)) == before
    assert store.incidents[incident_id].status is IncidentStatus.RESOLVED


def test_a_drill_alert_routed_after_its_limit_pages_nobody() -> None:
    """A router far behind on the alerts topic, or a drill held back by maintenance until after its end."""
    store = Store()
    late = _drill()
    effects = store.run([late], T0 + minutes(31))
    [decision] = effects.decisions
    assert decision.outcome is Outcome.RESOLVED and decision.incident_id is None
    assert decision.reason.startswith(f"drill ended: time limit ({(T0 + minutes(30)).isoformat()}) passed")
    assert effects.pages == [] and effects.opened == [] and effects.steps == []
    assert store.alerts[late.dedup_key].status is AlertStatus.RESOLVED

    frozen = _drill("frozen")  # always in maintenance: suppressed, looked at again until the drill is over
    store.run([frozen], T0)
    assert store.alerts[frozen.dedup_key].status is AlertStatus.SUPPRESSED
    _walk(store, 31)
    assert store.alerts[frozen.dedup_key].status is AlertStatus.RESOLVED
    assert (
        store.alerts[frozen.dedup_key].recheck_at is None and store.last(frozen.dedup_key).outcome is Outcome.RESOLVED
    )


def test_a_drill_event_without_an_end_ends_after_the_default() -> None:
    """A drill raised by a router from before time limits (its event still on the topic) ends all the same."""
    store = Store()
    old = _drill().model_copy(update={"drill_ends_at": None})
    store.run([old], T0)
    incident_id = store.last(old.dedup_key).incident_id or ""
    assert store.incidents[incident_id].drill_ends_at == T0 + minutes(drills.DEFAULT_MINUTES)


def test_two_drills_within_the_grouping_window_end_each_at_its_own_limit() -> None:
    """Each drill has its own incident (a drill joins none), so each ends at its own time limit."""
    store = Store()
    first = _drill("storm", limit=10, run_id="00000000-0000-4000-8000-000000000001")
    second = _drill("storm", at=T0 + minutes(0.5), limit=30, run_id="00000000-0000-4000-8000-000000000002")
    store.run([first], T0)
    store.run([second], T0 + minutes(0.5))
    first_id, second_id = (store.last(d.dedup_key).incident_id or "" for d in (first, second))
    assert first_id != second_id
    assert store.incidents[second_id].drill_ends_at == T0 + minutes(30.5)
    _walk(store, 15)
    assert store.incidents[first_id].status is IncidentStatus.RESOLVED and store.incidents[second_id].live


def test_the_time_limit_is_bounded() -> None:
    run = drills.new_run("checkout", "carol", "", T0, silent=False)
    assert run.ends_at == T0 + minutes(drills.DEFAULT_MINUTES) == T0 + minutes(30)
    assert drills.new_run("checkout", "carol", "", T0, silent=False, minutes=480).ends_at == T0 + minutes(480)
    for wrong in (0, drills.MAX_MINUTES + 1):
        with pytest.raises(ValueError, match="a drill runs 1 to 480 minutes"):
            drills.new_run("checkout", "carol", "", T0, silent=False, minutes=wrong)
    assert drills.new_run("checkout", "carol", "", T0, silent=True).ends_at is None  # a silent drill pages nobody


def test_those_paged_are_told_the_drill_ended() -> None:
    store = Store()
    _, incident_id = _start(store)
    store.tick(T0 + minutes(30))
    incident = store.incidents[incident_id]
    paged = store.pages_for(incident_id)
    notices = update_pages(CONFIG, incident, paged, DRILL_TIME_LIMIT, "d", T0 + minutes(30))
    assert notices and {n.kind for n in notices} == {PageKind.RESOLVED}
    assert {n.status_note for n in notices} == {"ended by the drill's time limit"} and all(n.drill for n in notices)
    by_person = update_pages(CONFIG, incident, paged, "bob", "d", T0 + minutes(30))
    assert {n.status_note for n in by_person} == {""}


@pytest.mark.parametrize(("action", "extra"), [("escalate", {}), ("add_responder", {"target": ("user", "dave")})])
def test_a_person_s_action_on_a_drill_past_its_limit_pages_nobody(action: str, extra: dict[str, object]) -> None:
    """Between the time limit and the timer pass that ends the drill, escalate now, reassign and add a responder
    still paged (bob at level 2, dave as a responder): a due step at that moment pages nobody, and they did."""
    store = Store()
    _, incident_id = _start(store)
    store.act(incident_id, "acknowledge", T0 + minutes(1), by="alice")
    before = store.pages_for(incident_id)
    effects = store.run([ManualAction(incident_id, action, "alice", **extra)], T0 + minutes(31))  # type: ignore[arg-type]
    assert effects.pages == [] and effects.decisions == [] and store.pages_for(incident_id) == before
    store.tick(T0 + minutes(31))
    assert store.incidents[incident_id].status is IncidentStatus.RESOLVED  # its end, at the next timer pass
