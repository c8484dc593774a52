"""Pydantic models of the ownership YAML: one ``OwnershipDocument`` per file, merged into ``OwnershipConfig``.

Models check what one value can tell on its own (types, time zones, window shapes, positive turns); the
checks that need the whole configuration (references, duplicate ids, overlaps) live in ``references``.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, GetJsonSchemaHandler, field_validator, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from alertrouter_router.ownership.drill_schedule import DrillSchedule
from alertrouter_router.ownership.matcher_syntax import MATCHER_PATTERN, SYNTAX_HELP, parse_matcher
from alertrouter_router.ownership.people import (
    Team,
    User,
    first_by_id,
)
from alertrouter_router.ownership.timespec import (
    ClockTime,
    Instant,
    StrictModel,
    TimeWindow,
    TimeZoneName,
    Turn,
    WallDateTime,
    Weekday,
)
from alertrouter_shared.integrations import Identifier, IntegrationSpec

Labels = dict[str, str]


class Layer(StrictModel):
    """One rotation: participants take turns from ``start`` (wall time in the schedule's zone)."""

    id: Identifier
    name: str = ""
    participants: list[str]
    start: WallDateTime
    turn: Turn
    handoff_time: ClockTime | None = None
    restrictions: list[TimeWindow] = Field(default_factory=list)

    @model_validator(mode="after")
    def _handoff_needs_calendar_turn(self) -> Layer:
        if self.handoff_time is not None and not self.turn.is_calendar:
            raise ValueError("handoff_time applies only to turns in days or weeks; hours are elapsed time")
        return self


class Override(StrictModel):
    """``user`` is on call from ``start`` to ``end``, replacing ``replaces`` only, or whoever is on call."""

    id: Identifier
    user: str
    start: Instant
    end: Instant
    replaces: str | None = None

    @model_validator(mode="after")
    def _check_order(self) -> Override:
        if self.end <= self.start:
            raise ValueError("override end must be after its start")
        return self


class Schedule(StrictModel):
    id: Identifier
    name: str
    time_zone: TimeZoneName
    description: str = ""
    layers: list[Layer] = Field(default_factory=list)
    overrides: list[Override] = Field(default_factory=list)


class TargetType(StrEnum):
    SCHEDULE = "schedule"
    USER = "user"
    TEAM = "team"


class TargetRef(StrictModel):
    type: TargetType
    id: str


class EscalationLevel(StrictModel):
    """Page ``targets``; after ``delay_minutes`` without acknowledgement, escalate to the next level."""

    delay_minutes: Annotated[int, Field(ge=1, le=1440)]
    targets: list[TargetRef]


class EscalationPolicy(StrictModel):
    id: Identifier
    name: str
    description: str = ""
    repeat: Annotated[int, Field(ge=0, le=20)] = 0
    ack_timeout_minutes: Annotated[int, Field(ge=1, le=10080)] | None = Field(
        None, description="an acknowledgement nobody followed with a resolve pages again after this long"
    )
    levels: list[EscalationLevel]


class OneOffWindow(StrictModel):
    start: Instant
    end: Instant

    @model_validator(mode="after")
    def _check_order(self) -> OneOffWindow:
        if self.end <= self.start:
            raise ValueError("maintenance window end must be after its start")
        return self


class WeeklyMaintenance(StrictModel):
    time_zone: TimeZoneName
    start_day: Weekday
    start_time: ClockTime
    end_day: Weekday
    end_time: ClockTime

    def as_window(self) -> TimeWindow:
        return TimeWindow(
            start_day=self.start_day, start_time=self.start_time, end_day=self.end_day, end_time=self.end_time
        )

    @model_validator(mode="after")
    def _check_window(self) -> WeeklyMaintenance:
        self.as_window()
        return self


class MaintenanceWindow(StrictModel):
    """Either ``once`` (a one-off interval) or ``weekly`` (a recurring window in a zone)."""

    once: OneOffWindow | None = None
    weekly: WeeklyMaintenance | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> MaintenanceWindow:
        if (self.once is None) == (self.weekly is None):
            raise ValueError("a maintenance window has exactly one of 'once' or 'weekly'")
        return self


class Service(StrictModel):
    """``aliases`` are other values of a label that name this service (for ``service_from_label`` rules)."""

    id: Identifier
    name: str
    aliases: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    owner_team: str
    escalation_policy: str
    description: str = ""
    runbook_url: str | None = None
    labels: Labels = Field(default_factory=dict)
    grouping_window_seconds: Annotated[int, Field(ge=0, le=86400)] | None = None
    group_by: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list,
        description="labels whose values split the grouping window into separate incidents (like Alertmanager's "
        "group_by); empty: one incident per window for the whole service",
    )
    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=list)
    drills: list[DrillSchedule] = Field(
        default_factory=list, description="drills run on a schedule (see docs/routing.md#drills)"
    )

    @field_validator("runbook_url")
    @classmethod
    def _web_link(cls, value: str | None) -> str | None:
        """Shown as a link to every team in the console and sent in pages: only a web address may be followed
        (a ``javascript:`` one would run in the reader's session but for the console's CSP)."""
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ValueError("runbook_url is an http:// or https:// address")
        return value.strip()

    @model_validator(mode="after")
    def _unique_drill_ids(self) -> Service:
        ids = [drill.id for drill in self.drills]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"drill ids repeat within the service: {', '.join(repeated)}")
        return self


MatchOp = Literal["=", "!=", "=~", "!~", "exists", "absent"]


class Matcher(StrictModel):
    """One label condition, written as an object or as an Alertmanager matcher string (``env!="staging"``)."""

    label: Annotated[str, Field(min_length=1)]
    op: MatchOp = "="
    value: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_alertmanager_string(cls, value: object) -> object:
        return parse_matcher(value) if isinstance(value, str) else value

    @classmethod
    def __get_pydantic_json_schema__(cls, core: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """Editors are told about both spellings: the object and the Alertmanager string."""
        as_object = handler.resolve_ref_schema(handler(core))
        as_string = {
            "type": "string",
            "pattern": MATCHER_PATTERN,
            "description": f"Alertmanager matcher, {SYNTAX_HELP}",
        }
        return {"anyOf": [as_string, dict(as_object)]}

    @model_validator(mode="after")
    def _value_matches_op(self) -> Matcher:
        if self.op in ("exists", "absent") and self.value is not None:
            raise ValueError(f"operator {self.op!r} takes no value")
        if self.op not in ("exists", "absent") and self.value is None:
            raise ValueError(f"operator {self.op!r} needs a value")
        return self


class RouteRule(StrictModel):
    """Ordered rule: the first rule whose matchers all match decides the service; empty ``match`` = catch-all.

    Instead of a fixed ``service``, ``service_from_label`` names a label whose value is a service id or alias:
    one rule routes every service, and an alert whose label names no service falls through to the next rule.
    """

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["service"]}, {"required": ["service_from_label"]}]}
    )

    id: Identifier
    service: str | None = None
    service_from_label: Annotated[str, Field(min_length=1)] | None = None
    match: list[Matcher] = Field(default_factory=list)
    description: str = ""

    @model_validator(mode="after")
    def _one_destination(self) -> RouteRule:
        if (self.service is None) == (self.service_from_label is None):
            raise ValueError("a route rule has exactly one of 'service' or 'service_from_label'")
        return self

    @property
    def is_catch_all(self) -> bool:
        return not self.match and self.service_from_label is None


Integration = IntegrationSpec


class OwnershipDocument(StrictModel):
    """One file's content; every section is optional so each team can own a file."""

    teams: list[Team] = Field(default_factory=list)
    users: list[User] = Field(default_factory=list)
    schedules: list[Schedule] = Field(default_factory=list)
    escalation_policies: list[EscalationPolicy] = Field(default_factory=list)
    services: list[Service] = Field(default_factory=list)
    route_rules: list[RouteRule] = Field(default_factory=list)
    integrations: list[Integration] = Field(default_factory=list)

    @field_validator("*", mode="before")
    @classmethod
    def _null_section_is_empty(cls, value: object) -> object:
        return [] if value is None else value


class OwnershipConfig(OwnershipDocument):
    """The merged, validated configuration; lookups by id are computed once per loaded version."""

    @cached_property
    def users_by_id(self) -> dict[str, User]:
        return first_by_id(self.users)

    @cached_property
    def teams_by_id(self) -> dict[str, Team]:
        return first_by_id(self.teams)

    @cached_property
    def schedules_by_id(self) -> dict[str, Schedule]:
        return first_by_id(self.schedules)

    @cached_property
    def policies_by_id(self) -> dict[str, EscalationPolicy]:
        return first_by_id(self.escalation_policies)

    @cached_property
    def services_by_id(self) -> dict[str, Service]:
        return first_by_id(self.services)

    @cached_property
    def integrations_by_id(self) -> dict[str, Integration]:
        return first_by_id(self.integrations)

    @cached_property
    def schedule_teams(self) -> dict[str, frozenset[str]]:
        """Schedule id to the teams whose services' escalation policies page it (a schedule has no owner field)."""
        teams: dict[str, set[str]] = {schedule.id: set() for schedule in self.schedules}
        for service in self.services:
            policy = self.policies_by_id.get(service.escalation_policy)
            for level in policy.levels if policy is not None else ():
                for target in level.targets:
                    if target.type.value == "schedule" and target.id in teams:
                        teams[target.id].add(service.owner_team)
        return {schedule_id: frozenset(owners) for schedule_id, owners in teams.items()}

    @cached_property
    def services_by_name(self) -> dict[str, Service]:
        """Service ids and aliases to services; ids win over aliases, first definition wins among aliases."""
        names: dict[str, Service] = {}
        for service in self.services:
            for alias in service.aliases:
                names.setdefault(alias, service)
        return {**names, **self.services_by_id}

    @cached_property
    def ordered_route_rules(self) -> list[RouteRule]:
        """Rules in file order, with the catch-all (empty ``match``, fixed service) always last."""
        specific = [rule for rule in self.route_rules if not rule.is_catch_all]
        return specific + [rule for rule in self.route_rules if rule.is_catch_all]
