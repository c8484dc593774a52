"""Random histories through the decision core, with the paging promise checked after every step.

Triggers, repeats, resolves, source and person acknowledgements and resolves, out-of-order, stale and future-dated
events, maintenance windows opening and ending early, time passing, and replays of the last batch. After each
step: a firing, routable, fresh, unacknowledged alert outside maintenance belongs to a live incident that paged
someone (or whose decision says nobody was on call); no episode opens two incidents; nothing resolved or
acknowledged keeps escalating; a replayed batch changes nothing.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from alertrouter_router.decisions import Outcome
from alertrouter_router.decisions.alerts import AlertStatus
from alertrouter_router.decisions.incidents import IncidentStatus
from alertrouter_router.decisions.maintenance import ApiWindow
from alertrouter_shared.events import AlertAction, AlertEvent
from tests.router.unit.decide_support import T0, Store, event

KEYS = [f"k{i}" for i in range(5)]
SERVICES = ["checkout", "storm", "clusters", "unstaffed", "nowhere"]
ROUTED = {"checkout", "storm", "clusters", "unstaffed"}


@dataclass
class Truth:
    """What the source says about a key, and what the checks may expect of the router."""

    service: str
    firing: bool = False
    fresh: bool = False  # a trigger received in time was seen for the current episode
    episodes: int = 0
    resolved_at: timedelta | None = None


class PagingPromise(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = Store()
        self.now = T0
        self.truth: dict[str, Truth] = {}
        self.last_batch: list[AlertEvent] = []
        self.windows: list[ApiWindow] = []
        self.acknowledged: set[str] = set()
        self.sent = 0

    # ------------------------------------------------------------------------------ rules

    def _send(self, batch: list[AlertEvent]) -> None:
        # Deterministic event ids (hence incident ids), so hypothesis can replay a history exactly.
        self.sent += len(batch)
        batch = [e.model_copy(update={"event_id": uuid.UUID(int=self.sent * 100 + i)}) for i, e in enumerate(batch)]
        self.store.run(batch, self.now)
        self.last_batch = batch

    @rule(key=st.sampled_from(KEYS), service=st.sampled_from(SERVICES), skew=st.sampled_from([0, 0, 3600 * 24 * 365]))
    def trigger(self, key: str, service: str, skew: int) -> None:
        truth = self.truth.setdefault(key, Truth(service))
        service = truth.service
        if not truth.firing:
            truth.episodes += 1
        truth.firing, truth.fresh = True, True
        at = self.now + timedelta(seconds=skew)
        self._send([event(key, at=at, received=self.now, service=service, cluster="eu", alertname="A")])

    @rule(key=st.sampled_from(KEYS))
    def stale_trigger(self, key: str) -> None:
        truth = self.truth.setdefault(key, Truth("checkout"))
        if truth.firing:
            return
        truth.episodes += 1
        truth.firing, truth.fresh = True, False
        old = self.now - timedelta(hours=1)
        self._send([event(key, at=old, received=old, service=truth.service, cluster="eu", alertname="A")])

    @rule(key=st.sampled_from(KEYS), skew=st.sampled_from([0, 3600 * 24 * 365]))
    def resolve(self, key: str, skew: int) -> None:
        truth = self.truth.setdefault(key, Truth("checkout"))
        truth.firing, truth.fresh = False, False
        truth.resolved_at = self.now - T0
        at = self.now + timedelta(seconds=skew)
        self._send([event(key, AlertAction.RESOLVE, at=at, received=self.now, service=truth.service)])

    @precondition(lambda self: any(t.resolved_at is not None and not t.firing for t in self.truth.values()))
    @rule(data=st.data())
    def late_trigger(self, data: st.DataObject) -> None:
        """A trigger that happened before the last resolve, delivered now: it must change nothing."""
        keys = sorted(k for k, t in self.truth.items() if t.resolved_at is not None and not t.firing)
        key = data.draw(st.sampled_from(keys))
        truth = self.truth[key]
        assert truth.resolved_at is not None
        at = T0 + truth.resolved_at - timedelta(seconds=1)
        self._send([event(key, at=at, received=self.now, service=truth.service, cluster="eu", alertname="A")])

    @rule(key=st.sampled_from(KEYS))
    def source_acknowledge(self, key: str) -> None:
        truth = self.truth.get(key)
        if truth is None:
            return
        alert = self.store.alerts.get(key)
        if alert is not None and alert.incident_id and alert.status is AlertStatus.FIRING:
            self.acknowledged.add(alert.incident_id)
        self._send([event(key, AlertAction.ACKNOWLEDGE, at=self.now, service=truth.service)])

    @precondition(lambda self: any(i.live for i in self.store.incidents.values()))
    @rule(data=st.data(), action=st.sampled_from(["acknowledge", "resolve"]))
    def person_acts(self, data: st.DataObject, action: str) -> None:
        live = sorted((i.opened_at, i.dedup_key, i.id) for i in self.store.incidents.values() if i.live)
        incident_id = data.draw(st.sampled_from(live))[2]
        if action == "acknowledge":
            self.acknowledged.add(incident_id)
        else:
            for key, alert in self.store.alerts.items():
                if alert.incident_id == incident_id and alert.status is AlertStatus.FIRING:
                    self.truth[key].firing = False  # the person says it is over; the next trigger is new
                    self.truth[key].resolved_at = self.now - T0
        self.store.act(incident_id, action, self.now)

    @rule(service=st.sampled_from(sorted(ROUTED)), minutes=st.integers(1, 30))
    def open_window(self, service: str, minutes: int) -> None:
        self.windows.append(self.store.window(service, self.now, self.now + timedelta(minutes=minutes)))

    @precondition(lambda self: bool(self.windows))
    @rule(data=st.data())
    def end_window_early(self, data: st.DataObject) -> None:
        window = data.draw(st.sampled_from(self.windows))
        self.windows.remove(window)
        self.store.end_window(window, self.now)
        self.store.tick(self.now)

    @rule(seconds=st.sampled_from([1, 30, 61, 300, 900]))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        self.windows = [w for w in self.windows if w.ends_at > self.now]
        self.store.tick(self.now)

    @precondition(lambda self: bool(self.last_batch))
    @rule()
    def replay_last_batch(self) -> None:
        before = copy.deepcopy((self.store.alerts, self.store.incidents, self.store.pending_steps, self.store.pages))
        effects = self.store.run(self.last_batch, self.now)
        assert effects.decisions == [] and effects.pages == []
        assert (self.store.alerts, self.store.incidents, self.store.pending_steps, self.store.pages) == before

    # ------------------------------------------------------------------------------ invariants

    def _in_maintenance(self, service: str) -> bool:
        return any(w.service_id == service and w.starts_at <= self.now < w.ends_at for w in self.store.windows)

    @invariant()
    def firing_alerts_are_paged(self) -> None:
        for key, truth in self.truth.items():
            if not (truth.firing and truth.fresh and truth.service in ROUTED) or self._in_maintenance(truth.service):
                continue
            alert = self.store.alerts[key]
            assert alert.status is AlertStatus.FIRING, f"{key} is firing but {alert.status} ({alert.suppressed_by})"
            incident = self.store.incidents[alert.incident_id or ""]
            if incident.id in self.acknowledged:
                continue
            assert incident.live
            said = {d.outcome for d in self.store.decisions if d.incident_id == incident.id}
            assert self.store.pages_for(incident.id) or Outcome.NOBODY_ON_CALL in said, f"{key}: nobody paged"

    @invariant()
    def no_episode_opens_two_incidents(self) -> None:
        for key, truth in self.truth.items():
            opened = [i for i in self.store.incidents.values() if i.dedup_key == key]
            assert len(opened) <= truth.episodes

    @invariant()
    def an_incident_counts_its_firing_members(self) -> None:
        """An incident opened by an alert may outlive that alert's episode (its other members still fire): what
        must hold is that each live incident's firing count is its members still firing, and it has some."""
        for incident in self.store.incidents.values():
            firing = [a for a in self.store.alerts.values() if a.incident_id == incident.id and a.firing]
            if incident.live:
                assert incident.firing_count == len(firing) > 0, (incident.id, incident.firing_count, len(firing))

    @invariant()
    def nothing_resolved_or_acknowledged_keeps_escalating(self) -> None:
        for step in self.store.pending_steps.values():
            assert self.store.incidents[step.incident_id].status is IncidentStatus.TRIGGERED


PagingPromise.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestPagingPromise = PagingPromise.TestCase
