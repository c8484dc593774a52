"""THE permission table of the SRE API: every route's rule in one place, applied by one dependency.

Everyone with a token reads everything (central operations keep visibility). Acting on an incident needs a
responder of the team that owns its service (or, relayed by a machine client with ``act_as``, a person of that team
or one the incident paged: ``on_behalf_refusal``); maintenance windows need a team admin of the service's team;
tokens and reloads need an admin. Admins are not bound to teams. A route missing from the table cannot start
(``check_complete`` runs when the app is built), and a request to one would be refused anyway: fail closed.
The one API route outside the table is the calendar feed ``/calendar/<secret>.ics``, whose path holds its
credential; the web console's routes (``CONSOLE``) each enforce the rule of the API route they stand for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal, Protocol

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.routing import APIRoute

from alertrouter_router.api.auth import authenticate
from alertrouter_router.db.pool import Conn
from alertrouter_router.identity import Principal, Role, teams_of
from alertrouter_router.ownership.model import OwnershipConfig
from alertrouter_router.ownership.routing import route_again
from alertrouter_shared.web.routes import route_template

if TYPE_CHECKING:
    from alertrouter_router.state import RouterState


class IncidentScope(Protocol):
    """What ``on_behalf_refusal`` reads of an incident."""

    @property
    def id(self) -> str: ...
    @property
    def team_id(self) -> str | None: ...
    @property
    def service_id(self) -> str | None: ...
    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def integration_id(self) -> str | None: ...
    @property
    def drill(self) -> bool: ...


Scope = (
    Literal["incident", "service", "schedule"] | None
)  # which path parameter's owning team the caller must belong to


@dataclass(frozen=True)
class Rule:
    role: Role
    does: str  # "acknowledge incidents": completes "… may not <does>"
    scope: Scope = None


def _read(what: str) -> Rule:
    return Rule(Role.VIEWER, f"read {what}")


def _incident(verb: str) -> Rule:
    return Rule(Role.RESPONDER, f"{verb} incidents", "incident")


_MAINTENANCE = "/v1/services/{service_id}/maintenance"
_INCIDENT = "/v1/incidents/{incident_id}"

RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/v1/oncall"): _read("who is on call"),
    ("GET", "/v1/schedules/{schedule_id}/shifts"): _read("shifts"),
    ("GET", "/v1/schedules/{schedule_id}/calendar.ics"): _read("calendars"),
    ("GET", "/v1/users/{user_id}/calendar.ics"): _read("calendars"),
    ("GET", "/v1/services"): _read("services"),
    ("GET", "/v1/services/{service_id}"): _read("services"),
    ("GET", "/v1/teams"): _read("teams"),
    ("POST", "/v1/route/preview"): _read("route previews"),
    ("GET", "/v1/decisions"): _read("decisions"),
    ("GET", "/v1/decisions/{decision_id}"): _read("decisions"),
    ("GET", "/v1/decisions/{decision_id}/explain"): _read("decisions"),
    ("GET", "/v1/incidents"): _read("incidents"),
    ("GET", _INCIDENT): _read("incidents"),
    ("POST", f"{_INCIDENT}/acknowledge"): _incident("acknowledge"),
    ("POST", f"{_INCIDENT}/resolve"): _incident("resolve"),
    ("POST", f"{_INCIDENT}/escalate"): _incident("escalate"),
    ("POST", f"{_INCIDENT}/snooze"): _incident("snooze"),
    ("POST", f"{_INCIDENT}/notes"): _incident("add notes to"),
    ("POST", f"{_INCIDENT}/reassign"): _incident("reassign"),
    ("POST", f"{_INCIDENT}/responders"): _incident("add responders to"),
    ("GET", _MAINTENANCE): _read("maintenance windows"),
    ("POST", _MAINTENANCE): Rule(Role.TEAM_ADMIN, "create maintenance windows", "service"),
    ("DELETE", f"{_MAINTENANCE}/{{window_id}}"): Rule(Role.TEAM_ADMIN, "end maintenance windows", "service"),
    ("GET", "/v1/config"): _read("the configuration"),
    ("POST", "/v1/config/reload"): Rule(Role.ADMIN, "reload the configuration"),
    ("GET", "/v1/config/versions"): _read("configuration versions"),
    ("GET", "/v1/config/versions/{from_version}/diff/{to_version}"): _read("configuration versions"),
    ("GET", "/v1/heartbeats"): _read("heartbeats"),
    ("POST", "/v1/services/{service_id}/drills"): Rule(Role.TEAM_ADMIN, "run drills for services", "service"),
    ("GET", "/v1/services/{service_id}/drills"): _read("drills"),
    ("GET", "/v1/drills/{drill_id}"): _read("drills"),
    ("GET", "/v1/tokens"): Rule(Role.ADMIN, "list API tokens"),
    ("POST", "/v1/tokens"): Rule(Role.ADMIN, "create API tokens"),
    ("DELETE", "/v1/tokens/{token_id}"): Rule(Role.ADMIN, "revoke API tokens"),
    ("GET", "/v1/audit"): _read("the audit trail"),
    ("GET", "/v1/schedules/{schedule_id}/overrides"): _read("overrides"),
    ("POST", "/v1/schedules/{schedule_id}/overrides"): Rule(Role.TEAM_ADMIN, "create overrides", "schedule"),
    ("DELETE", "/v1/schedules/{schedule_id}/overrides/{override_id}"): Rule(
        Role.TEAM_ADMIN, "remove overrides", "schedule"
    ),
    # a feed URL for oneself; revoking someone else's needs an admin (checked in the route: it depends on the row)
    ("POST", "/v1/calendar-feeds"): _read("calendars"),
    ("GET", "/v1/calendar-feeds"): _read("calendars"),
    ("DELETE", "/v1/calendar-feeds/{feed_id}"): _read("calendars"),
    ("GET", "/v1/reports/oncall"): _read("on-call health reports"),
}


# The web console (``/ui``, package ``console``) signs people in with a session cookie instead of a bearer token.
# Each of its routes stands for the API route whose rule it enforces (through ``refusal``, with the same path
# parameters), so the console can show and do nothing the API would refuse. Only signing in and out and the static
# assets need no rule. ``check_console_complete`` runs when the app is built, like ``check_complete``.
CONSOLE_PUBLIC = frozenset({("GET", "/ui/sign-in"), ("POST", "/ui/sign-in"), ("POST", "/ui/sign-out")})
_INCIDENT_UI = "/ui/incidents/{incident_id}"
CONSOLE: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "/ui/"): ("GET", "/v1/oncall"),
    ("GET", "/ui/incidents"): ("GET", "/v1/incidents"),
    ("GET", "/ui/incidents/rows"): ("GET", "/v1/incidents"),
    ("GET", _INCIDENT_UI): ("GET", _INCIDENT),
    ("GET", f"{_INCIDENT_UI}/timeline"): ("GET", _INCIDENT),
    ("GET", f"{_INCIDENT_UI}/facts"): ("GET", _INCIDENT),
    ("POST", f"{_INCIDENT_UI}/acknowledge"): ("POST", f"{_INCIDENT}/acknowledge"),
    ("GET", f"{_INCIDENT_UI}/resolve"): ("POST", f"{_INCIDENT}/resolve"),  # the page asking to confirm
    ("POST", f"{_INCIDENT_UI}/resolve"): ("POST", f"{_INCIDENT}/resolve"),
    ("GET", f"{_INCIDENT_UI}/escalate"): ("POST", f"{_INCIDENT}/escalate"),
    ("POST", f"{_INCIDENT_UI}/escalate"): ("POST", f"{_INCIDENT}/escalate"),
    ("POST", f"{_INCIDENT_UI}/snooze"): ("POST", f"{_INCIDENT}/snooze"),
    ("POST", f"{_INCIDENT_UI}/notes"): ("POST", f"{_INCIDENT}/notes"),
    ("POST", f"{_INCIDENT_UI}/reassign"): ("POST", f"{_INCIDENT}/reassign"),
    ("GET", "/ui/why"): ("GET", "/v1/decisions"),
    ("GET", "/ui/why/{decision_id}"): ("GET", "/v1/decisions/{decision_id}/explain"),
    ("GET", "/ui/services"): ("GET", "/v1/services"),
    ("GET", "/ui/services/{service_id}"): ("GET", "/v1/services/{service_id}"),
    ("POST", "/ui/services/{service_id}/maintenance"): ("POST", _MAINTENANCE),
    ("GET", "/ui/services/{service_id}/maintenance/{window_id}/end"): ("DELETE", f"{_MAINTENANCE}/{{window_id}}"),
    ("POST", "/ui/services/{service_id}/maintenance/{window_id}/end"): ("DELETE", f"{_MAINTENANCE}/{{window_id}}"),
    ("GET", "/ui/schedules"): ("GET", "/v1/schedules/{schedule_id}/shifts"),
    ("GET", "/ui/schedules/{schedule_id}"): ("GET", "/v1/schedules/{schedule_id}/shifts"),
    ("POST", "/ui/schedules/{schedule_id}/overrides"): ("POST", "/v1/schedules/{schedule_id}/overrides"),
    ("POST", "/ui/schedules/{schedule_id}/calendar-feed"): ("POST", "/v1/calendar-feeds"),
    ("GET", "/ui/preview"): ("POST", "/v1/route/preview"),
    ("GET", "/ui/health"): ("GET", "/v1/reports/oncall"),
}


def check_console_complete(routers: Sequence[APIRouter]) -> None:
    """Every console route is public or stands for an API route with a rule; every mapping has a console route."""
    served = {
        (method, route.path)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    } - CONSOLE_PUBLIC
    if missing := sorted(served - CONSOLE.keys()):
        raise RuntimeError(f"console routes without the API route they stand for in api/permissions.py: {missing}")
    if stale := sorted(CONSOLE.keys() - served):
        raise RuntimeError(f"console mappings for routes that do not exist: {stale}")
    if unruled := sorted(api for api in CONSOLE.values() if api not in RULES):
        raise RuntimeError(f"console routes stand for API routes without a rule: {unruled}")


def check_complete(routers: Sequence[APIRouter]) -> None:
    """Every route of the API's routers has exactly one rule and every rule a route: a new route without a rule
    cannot ship. (The routers, not the app: FastAPI includes routers lazily, so ``app.routes`` hides them.)"""
    served = {
        (method, route.path)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    if missing := sorted(served - RULES.keys()):
        raise RuntimeError(f"routes without a permission rule in api/permissions.py: {missing}")
    if stale := sorted(RULES.keys() - served):
        raise RuntimeError(f"permission rules for routes that do not exist: {stale}")


async def _owning_team(
    state: RouterState, scope: Scope, params: Mapping[str, str]
) -> tuple[frozenset[str], str] | None:
    """(teams, what they own) of the path's incident, service or schedule; None when there is none (the route
    answers 404)."""
    if scope == "service":
        service = state.configs.current.services_by_id.get(params["service_id"])
        return None if service is None else (frozenset({service.owner_team}), f"service {service.id}")
    if scope == "schedule":
        if params["schedule_id"] not in state.configs.current.schedules_by_id:
            return None
        return state.configs.current.config.schedule_teams[params["schedule_id"]], f"schedule {params['schedule_id']}"
    async with state.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT team_id, service_id, labels, drill, (SELECT o.integration_id FROM router_alert AS o "
            "WHERE o.dedup_key = router_incident.dedup_key) AS integration_id FROM router_incident WHERE id = $1",
            params["incident_id"],
        )
    if row is None:
        return None
    config = state.configs.current.config
    routable = Routable(row["labels"], row["integration_id"], row["drill"])
    teams = incident_teams(config, row["team_id"], row["service_id"], routable) or {"(none)"}
    return frozenset(teams), f"an incident of service {row['service_id']}"


@dataclass(frozen=True)
class Routable:
    """What routes an incident again: its labels, the integration of the alert that opened it, and whether a drill
    opened it (never routed to another service)."""

    labels: Mapping[str, str]
    integration_id: str | None
    drill: bool


def incident_teams(
    config: OwnershipConfig, team_id: str | None, service_id: str | None, routable: Routable | None = None
) -> set[str]:
    """The teams that may act on an incident: the one it was opened for (and paged), and the one that owns its
    service now -- a reload that moved the service or renamed the team left the owners refused on their own
    open incidents. When a reload removed its service (renamed with its team), the team its alert routes to now,
    as its escalation goes on with: else only an admin could act on it."""
    service = config.services_by_id.get(service_id or "")
    teams = {team_id, service.owner_team if service is not None else None}
    if service is None and routable is not None and not routable.drill:
        teams.add(route_again(config, routable.labels, routable.integration_id).team_id)
    return {team for team in teams if team is not None}


async def refusal(state: RouterState, who: Principal, method: str, path: str, params: Mapping[str, str]) -> str | None:
    """Why ``who`` may not call the API route (method, path) with these path parameters, or None when they may.
    The one check behind every API route and every console page and button."""
    rule = RULES.get((method, path))
    if rule is None:
        return f"{method} {path} has no permission rule"
    if not who.role.at_least(rule.role):
        return f"{who.describe()} may not {rule.does}: that needs the {rule.role.value} role"
    if rule.scope is not None and who.role is not Role.ADMIN:
        owner = await _owning_team(state, rule.scope, params)
        if owner is None and rule.scope != "incident":
            # No team owns it now (a reload removed it): what it left behind (a window, an override) is an
            # admin's, or a rollback would bring it back changed by another team.
            name = params[f"{rule.scope}_id"]
            return f"{who.describe()} may not {rule.does}: {rule.scope} {name} is not in the configuration"
        if owner is not None and not owner[0] & who.teams:
            teams, what = owner
            return (
                f"{who.describe()} may not {rule.does} of team {', '.join(sorted(teams)) or '(none)'} ({what}): "
                f"a {who.role.value} acts only on what their own teams own"
            )
    return None


async def authorize(request: Request) -> Principal:
    path = route_template(request)
    if (request.method, path) not in RULES:
        raise HTTPException(403, f"{request.method} {path} has no permission rule")
    who = await authenticate(request)
    if why := await refusal(request.app.state.router, who, request.method, path, request.path_params):
        raise HTTPException(403, why)
    return who


Who = Annotated[Principal, Depends(authorize)]


def acting_as(who: Principal, by: str | None) -> str:
    """Whom a write is recorded for: the token's identity; a body's ``by`` only from a machine client with
    ``act_as`` (the notifier relaying who pressed a button). Anyone else naming someone else gets 403."""
    if by is None or by == who.user_id:
        return who.actor
    if not who.act_as:
        raise HTTPException(403, f"{who.describe()} may not act as {by!r}: only machine clients with act_as may")
    return by


async def on_behalf_refusal(
    conn: Conn, config: OwnershipConfig, person: str, incident: IncidentScope, does: str
) -> str | None:
    """Why a machine client with ``act_as`` may not relay ``person`` doing ``does`` on the incident, or None.

    The relay (the notifier: a Slack button, an SMS reply, a key press, a link) is an admin, but the person it names
    acts with a person's rights, checked the API's way: a member of the team the incident was opened for or of the
    team that owns its service now (a reload may have moved it). One more person may: whoever the incident paged (a
    reassignment, another team's schedule in the policy, an added responder) -- they were asked to answer it.
    Anyone else -- a Slack member of another team clicking a button in a shared channel, someone who left the
    configuration -- is refused, and nothing changes.
    """
    if why := _not_a_user(config, person, does):
        return why
    teams = teams_of(config, person)
    routable = Routable(incident.labels, incident.integration_id, incident.drill)
    if teams & incident_teams(config, incident.team_id, incident.service_id, routable):
        return None
    paged = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM router_outbox WHERE incident_id = $1 AND (payload::jsonb)->>'user_id' = $2)",
        incident.id,
        person,
    )
    if paged:
        return None
    return (
        f"user {person} (teams: {', '.join(sorted(teams)) or 'none'}) may not {does} of team "
        f"{incident.team_id or '(none)'} (an incident of service {incident.service_id}): a person acts only on "
        "what their own teams own, or on an incident they were paged for"
    )


def _not_a_user(config: OwnershipConfig, person: str, does: str) -> str | None:
    if person not in config.users_by_id:
        return f"user {person} may not {does}: they are not a user of the ownership configuration"
    return None


def service_on_behalf_refusal(config: OwnershipConfig, person: str, service_id: str, does: str) -> str | None:
    """Why a machine client with ``act_as`` may not relay ``person`` doing ``does`` for a service (a drill), or None.

    The rules of ``on_behalf_refusal``: the person acts with a person's rights, so a user of the ownership
    configuration who is a member of the team owning the service. Unchecked, a drill was recorded as asked for by
    anyone named, someone unknown to the configuration included.
    """
    if why := _not_a_user(config, person, does):
        return why
    service = config.services_by_id[service_id]
    teams = teams_of(config, person)
    if service.owner_team in teams:
        return None
    return (
        f"user {person} (teams: {', '.join(sorted(teams)) or 'none'}) may not {does} of team {service.owner_team} "
        f"(service {service_id}): a person acts only on what their own teams own"
    )
