"""Every route for every role and team, against the running router: the rules of ``api/permissions.py`` hold.

The policy, written here independently of the table: everyone reads everything, the on-call health reports of
every team and configuration versions and their diffs included (and makes calendar feed URLs); acting on an incident
needs a responder of the team owning its service; maintenance windows need a team admin of the service's team,
overrides a team admin of a team whose services page the schedule; tokens (listing them too) and reloads need an
admin, who is bound to no team.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter

from alertrouter_router.api.permissions import RULES, check_complete
from alertrouter_router.identity import Role
from alertrouter_router.runtime import RouterRuntime
from tests.router.access_support import client_for, new_token, open_incident

TEAMS = {"payments": ("checkout", "payments-primary"), "platform": ("ledger", "platform-primary")}  # service, schedule
WINDOW = {"starts_at": "2090-01-01T00:00:00Z", "ends_at": "2090-01-02T00:00:00Z", "reason": "matrix"}
BODIES: dict[str, dict[str, Any]] = {
    "snooze": {"minutes": 5},
    "notes": {"note": "from the permission matrix"},
    "reassign": {"user": "carol"},
    "responders": {"user": "carol"},
    "preview": {"labels": {"service": "checkout"}},
    "maintenance": WINDOW,
    "tokens": {"client": "matrix-made", "role": "viewer"},
    "calendar-feeds": {"schedule": "payments-primary"},
    "overrides": {"user": "carol", "start": "2090-01-01T00:00:00Z", "end": "2090-01-02T00:00:00Z"},
    "drills": {"silent": True},
}


def expected_rule(method: str, path: str) -> tuple[Role, str | None]:
    """The issue's policy: (least role, which team must own the target)."""
    if path.startswith("/v1/tokens"):
        return Role.ADMIN, None
    if path.startswith("/v1/reports/"):
        return Role.VIEWER, None  # every team's health is visible to everyone, like everything else
    if method == "GET" or path == "/v1/route/preview" or path.startswith("/v1/calendar-feeds"):
        return Role.VIEWER, None
    if path.startswith("/v1/incidents/"):
        return Role.RESPONDER, "incident"
    if path.startswith("/v1/services/"):
        return Role.TEAM_ADMIN, "service"
    if path.startswith("/v1/schedules/"):
        return Role.TEAM_ADMIN, "schedule"
    return Role.ADMIN, None


def test_the_table_says_what_the_policy_says() -> None:
    for (method, path), rule in RULES.items():
        assert (rule.role, rule.scope) == expected_rule(method, path), (method, path)


def test_a_route_without_a_rule_cannot_be_served() -> None:
    added = APIRouter(prefix="/v1/incidents")

    @added.post("/{incident_id}/merge")
    async def merge(incident_id: str) -> None: ...

    with pytest.raises(RuntimeError, match=r"without a permission rule.*/v1/incidents/\{incident_id\}/merge"):
        check_complete([added])


@dataclass(frozen=True)
class Caller:
    role: Role
    team: str | None  # the caller's team (None: an admin machine client)
    client: httpx.AsyncClient


@pytest.fixture(scope="module")
async def callers(router: RouterRuntime, api: httpx.AsyncClient) -> AsyncIterator[list[Caller]]:
    made = [
        (Role.VIEWER, "payments", {"user": "carol", "role": "viewer"}),
        (Role.RESPONDER, "payments", {"user": "bob", "role": "responder"}),
        (Role.TEAM_ADMIN, "payments", {"user": "alice", "role": "team_admin"}),
        (Role.RESPONDER, "platform", {"user": "dave", "role": "responder"}),
        (Role.ADMIN, None, {"client": "matrix-admin", "role": "admin"}),
    ]
    found = [Caller(role, team, client_for(router, await new_token(api, **body))) for role, team, body in made]
    yield found
    for caller in found:
        await caller.client.aclose()


def _request(method: str, path: str, incident: str, service: str, schedule: str) -> tuple[str, dict[str, Any] | None]:
    url = (
        path.replace("{incident_id}", incident)
        .replace("{service_id}", service)
        .replace("{schedule_id}", schedule)
        .replace("{override_id}", str(uuid.uuid4()))
        .replace("{user_id}", "alice")
        .replace("{decision_id}", str(uuid.uuid4()))
        .replace("{window_id}", str(uuid.uuid4()))
        .replace("{token_id}", str(uuid.uuid4()))
        .replace("{feed_id}", str(uuid.uuid4()))
        .replace("{drill_id}", str(uuid.uuid4()))
        .replace("{from_version}", "current")
        .replace("{to_version}", "current")
    )
    if method in ("GET", "DELETE"):
        return url, None
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return url, BODIES.get(name, {})


async def test_every_route_for_every_role_and_team(
    callers: list[Caller], api: httpx.AsyncClient, producer: AIOKafkaProducer, unique: str
) -> None:
    incidents = {
        team: await open_incident(api, producer, service, f"am:test-am:{unique}-{team}")
        for team, (service, _) in TEAMS.items()
    }
    checked = 0
    for (method, path), _ in sorted(RULES.items(), key=lambda item: ("POST" in item[0][0], item[0][1])):
        least, scope = expected_rule(method, path)
        for target_team, (service, schedule) in TEAMS.items():
            url, body = _request(method, path, incidents[target_team], service, schedule)
            for caller in callers:
                allowed = caller.role.at_least(least) and (
                    scope is None or caller.role is Role.ADMIN or caller.team == target_team
                )
                response = await caller.client.request(method, url, json=body)
                where = f"{method} {url} as {caller.role.value} of {caller.team}: {response.text[:300]}"
                if allowed:
                    assert response.status_code not in (401, 403) and response.status_code < 500, where
                    if path.startswith("/v1/incidents/{incident_id}/"):
                        assert response.status_code == 200, where
                else:
                    assert response.status_code == 403, where
                    assert response.headers["content-type"] == "application/problem+json", where
                    assert "may not" in response.json()["detail"], where
                checked += 1
    assert checked == len(RULES) * len(TEAMS) * len(callers)


async def test_a_payments_responder_acknowledging_a_platform_incident_is_told_why(
    callers: list[Caller], api: httpx.AsyncClient, producer: AIOKafkaProducer, unique: str
) -> None:
    incident = await open_incident(api, producer, "ledger", f"am:test-am:{unique}-why")
    bob = next(c for c in callers if c.role is Role.RESPONDER and c.team == "payments")
    response = await bob.client.post(f"/v1/incidents/{incident}/acknowledge", json={})
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "user bob (responder; teams: payments) may not acknowledge incidents of team platform "
        "(an incident of service ledger): a responder acts only on what their own teams own"
    )
    still = (await api.get(f"/v1/incidents/{incident}")).json()["incident"]
    assert still["status"] == "triggered"
    dave = next(c for c in callers if c.team == "platform")
    assert (await dave.client.post(f"/v1/incidents/{incident}/acknowledge", json={})).status_code == 200


async def test_what_a_removed_service_or_schedule_left_behind_is_an_admin_s(callers: list[Caller]) -> None:
    """No team owns a service or schedule a reload removed, and the check let every team_admin through: one team
    could end another team's maintenance window or delete its override, changed if a rollback brought it back."""
    alice = next(c for c in callers if c.role is Role.TEAM_ADMIN)
    admin = next(c for c in callers if c.role is Role.ADMIN)
    window, override = uuid.uuid4(), uuid.uuid4()
    for path in (f"/v1/services/removed/maintenance/{window}", f"/v1/schedules/removed/overrides/{override}"):
        refused = await alice.client.delete(path)
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"].endswith("is not in the configuration")
        assert (await admin.client.delete(path)).status_code == 404  # an admin may: here there is nothing to end


async def test_a_relayed_person_acts_with_their_own_rights_not_the_relay_s(
    api: httpx.AsyncClient, producer: AIOKafkaProducer, unique: str
) -> None:
    """The notifier is an admin machine client with ``act_as``: it relays who pressed a Slack button, answered an
    SMS or followed a link. The person it names must be allowed to act themselves -- a member of the owning team or
    someone the incident paged -- or a Slack member of another team clicking Acknowledge in a shared channel
    acknowledged, as themselves, an incident their team has no say in."""
    incident = await open_incident(api, producer, "checkout", f"am:test-am:{unique}-relay")  # payments; pages alice
    url = f"/v1/incidents/{incident}"
    dave = await api.post(f"{url}/acknowledge", json={"by": "dave"})  # platform
    assert dave.status_code == 403, dave.text
    assert dave.json()["detail"] == (
        "user dave (teams: platform) may not acknowledge incidents of team payments (an incident of service "
        "checkout): a person acts only on what their own teams own, or on an incident they were paged for"
    )
    ghost = await api.post(f"{url}/resolve", json={"by": "mallory"})
    assert ghost.status_code == 403 and "not a user of the ownership configuration" in ghost.json()["detail"]
    assert (await api.get(url)).json()["incident"]["status"] == "triggered"  # neither changed anything

    # a member of the owning team who was not paged may act, as through their own token
    assert (await api.post(f"{url}/notes", json={"by": "carol", "note": "looking too"})).status_code == 200
    # someone of another team the incident paged (here by a reassignment, whose page is written with it) may
    # answer that page
    assert (await api.post(f"{url}/reassign", json={"by": "alice", "user": "dave"})).status_code == 200

    acked = await api.post(f"{url}/acknowledge", json={"by": "dave"})
    assert acked.status_code == 200 and acked.json()["by"] == "dave", acked.text
