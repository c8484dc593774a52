"""A drill is an explicit request to rehearse paging, so its alert joins no incident (no database): grouped into an
earlier drill's incident inside the service's grouping window, it paged nobody and its report showed the earlier
drill's pages and acknowledgement as its own success. Real alerts still group, never with a drill."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from alertrouter_router import drills
from alertrouter_router.decisions import Outcome
from alertrouter_shared.events import AlertEvent
from tests.router.unit.decide_support import CONFIG, T0, Store, event, minutes

LATER = T0 + minutes(0.5)  # inside storm's 60-second grouping window


def _drill(run_id: str, at: datetime = T0) -> AlertEvent:
    """A drill of ``storm`` (grouping window 60 s) exactly as the API raises it."""
    run = drills.new_run("storm", "carol", "", at, silent=False, run_id=f"00000000-0000-4000-8000-00000000000{run_id}")
    return drills.drill_alert(run, CONFIG.services_by_id["storm"].name)


def _real(key: str, at: datetime = T0) -> AlertEvent:
    return event(key, service="storm", at=at)


def _acknowledge(store: Store, first: AlertEvent) -> None:
    store.act(store.last(first.dedup_key).incident_id or "", "acknowledge", T0 + minutes(0.25))


def _leave(store: Store, first: AlertEvent) -> None:
    """The first incident stays triggered."""


Act = Callable[[Store, AlertEvent], None]
# rule, the first alert (at T0), what happens to its incident, the second alert (at LATER), its outcome
CASES: list[tuple[str, AlertEvent, Act, AlertEvent, Outcome]] = [
    ("a drill after a drill whose incident is open", _drill("1"), _leave, _drill("2", LATER), Outcome.PAGED),
    ("a drill after a drill that was acknowledged", _drill("1"), _acknowledge, _drill("2", LATER), Outcome.PAGED),
    ("a drill while a real incident is open", _real("a"), _leave, _drill("2", LATER), Outcome.PAGED),
    ("a real alert while a drill's incident is open", _drill("1"), _leave, _real("b", LATER), Outcome.PAGED),
    ("a real alert while a real incident is open", _real("a"), _leave, _real("b", LATER), Outcome.GROUPED),
]


@pytest.mark.parametrize(("rule", "first", "act", "second", "outcome"), CASES, ids=[c[0] for c in CASES])
def test_a_drill_joins_no_incident(
    rule: str, first: AlertEvent, act: Act, second: AlertEvent, outcome: Outcome
) -> None:
    store = Store()
    store.run([first], T0)
    act(store, first)
    store.run([second], LATER)
    decision = store.last(second.dedup_key)
    assert decision.outcome is outcome, decision.reason
    first_incident = store.last(first.dedup_key).incident_id
    if outcome is Outcome.GROUPED:
        assert decision.incident_id == first_incident
        return
    assert decision.incident_id not in (None, first_incident)
    incident = store.incidents[decision.incident_id or ""]
    assert incident.drill is second.drill and incident.opened_at == LATER and incident.acknowledged_at is None
    paged = store.pages_for(incident.id)
    assert paged and all(
        p.created_at >= LATER and p.drill is second.drill for p in paged
    )  # its own pages, not the first's
