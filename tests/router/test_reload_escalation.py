"""An open incident's escalation across a reload that renamed its service and policy, on a database of its own with
a clock the test sets: no Kafka, no running router (the consumer batch and the timer pass called as the loops do).

The step due after the reload decided "policy no longer exists ..., nor a policy of its service" and scheduled
nothing: the incident stayed triggered, every later trigger of the still-firing alert was a duplicate of it, and
nobody was paged again for as long as it fired. An incident of a bound integration (a heartbeat, a CloudWatch alarm)
goes on as the configuration in force routes its integration: its labels alone match no rule."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from alertrouter_router import timers
from alertrouter_router.db.pool import make_pool
from alertrouter_router.decisions.beats import silent_alert
from alertrouter_router.ownership.loader import LoadedConfig, load_config
from alertrouter_router.pipeline import process_batch
from alertrouter_router.state import RouterState
from alertrouter_shared.events import AlertEvent, PageKind
from tests.helpers import DatabaseFactory
from tests.router.conftest import CONFIG, alert_event
from tests.router.loop_support import T0, handed_over, loop_state, migrated_database, set_clock

DUE = T0 + timedelta(minutes=5, seconds=1)  # level 1's delay is 5 minutes


@pytest.fixture(scope="module")
def reload_database(databases: DatabaseFactory) -> Iterator[str]:
    yield migrated_database(databases)


@pytest.fixture
async def state(reload_database: str) -> AsyncIterator[RouterState]:
    pool = await make_pool(reload_database, 4)
    yield loop_state(pool, SimpleNamespace(current=load_config(CONFIG)), timer_lock_wait_seconds=0.5)
    await pool.close()


def _renamed(folder: Path) -> LoadedConfig:
    """The files after the change: service checkout is shop-checkout of team platform, policy payments-default is
    shop-default, and the rule for service=checkout (and the integrations bound to checkout) go to shop-checkout."""
    document = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for policy in document["escalation_policies"]:
        if policy["id"] == "payments-default":
            policy["id"] = "shop-default"
    for service in document["services"]:
        if service["escalation_policy"] == "payments-default":
            service["escalation_policy"] = "shop-default"
        if service["id"] == "checkout":
            service.update(id="shop-checkout", owner_team="platform")
    for item in document["route_rules"] + document["integrations"]:
        if item.get("service") == "checkout":
            item["service"] = "shop-checkout"
    folder.mkdir()
    (folder / "ownership.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_config(folder)


async def test_a_step_due_after_the_service_and_policy_were_renamed_pages_through_the_renamed_ones(
    state: RouterState, tmp_path: Path, unique: str
) -> None:
    key = f"am:test-am:{unique}"
    event = alert_event(key, {"service": "checkout", "alertname": "Down"}, occurred_at=T0, received_at=T0)
    incident_id = await _opened(state, event)
    state.configs.current = _renamed(tmp_path / "renamed")  # what a reload does
    try:
        decision = await _next_step(state, incident_id)
        assert decision["route"] == "rule 'by-service-label' matched: service = 'checkout' (was 'checkout')"
    finally:
        await _end(state, incident_id)


async def test_a_heartbeat_s_incident_whose_service_and_policy_were_renamed_pages_through_its_binding(
    state: RouterState, tmp_path: Path
) -> None:
    """An incident of a bound integration (a heartbeat, a CloudWatch alarm) has labels no rule matches: routed
    again by them alone, its step decided "... and it is not routed again: no route rule matched", nobody was paged
    again, and the heartbeat's later raises were duplicates of it while the job stayed silent."""
    spec = state.configs.current.integrations_by_id["test-heartbeat"]
    incident_id = await _opened(state, silent_alert(spec, T0 - timedelta(minutes=10), T0, T0))
    state.configs.current = _renamed(tmp_path / "renamed")
    try:
        decision = await _next_step(state, incident_id)
        assert decision["route"] == "integration is bound to service 'shop-checkout'"
    finally:
        await _end(state, incident_id)


async def _opened(state: RouterState, event: AlertEvent) -> str:
    """The incident the event opened, alice paged at checkout's level 1."""
    effects = await process_batch(state, [event], now=T0)
    incident_id = effects.decisions[0].incident_id
    assert incident_id is not None and effects.decisions[0].outcome.value == "paged", effects.decisions[0].reason
    return incident_id


async def _next_step(state: RouterState, incident_id: str) -> dict[str, Any]:
    """The step due after the reload, fired by the timer pass: it pages level 2 through the renamed service and
    policy, the incident moved to them and going on escalating. Returns the decision's row."""
    set_clock(state, DUE)
    assert await timers.fire_due_steps(state) == 1
    async with state.pool.acquire() as conn:
        decision = await conn.fetchrow(
            "SELECT outcome, level, service_id, team_id, policy_id, reason, explanation->'service_replaced' AS moved, "
            "explanation->'route'->>'reason' AS route FROM router_decision "
            "WHERE incident_id = $1 AND kind = 'escalation'",
            incident_id,
        )
        incident = await conn.fetchrow(
            "SELECT status, service_id, team_id, policy_id FROM router_incident WHERE id = $1", incident_id
        )
        pending = await conn.fetch(
            "SELECT round, level FROM router_escalation_step WHERE incident_id = $1 AND status = 'pending'",
            incident_id,
        )
    assert decision is not None and incident is not None
    assert (decision["outcome"], decision["level"]) == ("paged", 2), decision["reason"]
    assert (decision["service_id"], decision["team_id"], decision["policy_id"]) == (
        "shop-checkout",
        "platform",
        "shop-default",
    )
    assert decision["moved"] == {"was": "checkout", "now": "shop-checkout"}
    assert dict(incident) == {
        "status": "triggered",
        "service_id": "shop-checkout",
        "team_id": "platform",
        "policy_id": "shop-default",
    }
    assert [(r["round"], r["level"]) for r in pending] == [(1, 0)]  # it goes on escalating (the policy repeats)
    level_two = [
        p
        for p in handed_over(state)
        if p.kind is PageKind.TRIGGER and p.escalation_level == 2 and p.incident_id == incident_id
    ]
    assert [p.user_id for p in level_two] == ["bob"]
    return dict(decision)


async def _end(state: RouterState, incident_id: str) -> None:
    """This module's database: nothing else reads it, but the next test's timer pass must find its own step only."""
    async with state.pool.acquire() as conn:
        ended = await conn.execute(
            "UPDATE router_incident SET status = 'resolved', resolved_at = $2 WHERE id = $1", incident_id, DUE
        )
        cancelled = await conn.execute(
            "UPDATE router_escalation_step SET status = 'cancelled' WHERE incident_id = $1 AND status = 'pending'",
            incident_id,
        )
    assert ended == "UPDATE 1" and cancelled in ("UPDATE 0", "UPDATE 1")
