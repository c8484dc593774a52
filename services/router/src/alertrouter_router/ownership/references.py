"""Whole-configuration checks: ids unique across files, every reference resolves, nothing is unreachable.

Each check appends ``ConfigIssue``s located in the file and YAML path where the offending value was written,
so a directory of per-team files reports the team's own file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from alertrouter_router.ownership.errors import ConfigIssue, YamlPath
from alertrouter_router.ownership.model import EscalationPolicy, OwnershipConfig, Schedule, TargetType
from alertrouter_router.ownership.routing import BadExpression, anchored
from alertrouter_router.ownership.timespec import windows_overlap
from alertrouter_router.ownership.yaml_source import SourceDocument
from alertrouter_shared.events import ContactMethodType


@dataclass
class Provenance:
    """Where each merged list item came from: ``(document, index in that file's section)``."""

    origins: dict[str, list[tuple[SourceDocument, int]]] = field(default_factory=dict)

    def add(self, section: str, document: SourceDocument, count: int) -> None:
        self.origins.setdefault(section, []).extend((document, index) for index in range(count))

    def issue(self, section: str, index: int, subpath: YamlPath, message: str) -> ConfigIssue:
        document, local_index = self.origins[section][index]
        return document.issue((section, local_index, *subpath), message)

    def where(self, section: str, index: int) -> str:
        document, local_index = self.origins[section][index]
        line = document.line_of((section, local_index))
        return f"{document.file}:{line}" if line is not None else document.file


Report = Callable[[str, int, YamlPath, str], None]


def check_configuration(config: OwnershipConfig, provenance: Provenance) -> list[ConfigIssue]:
    """Every cross-reference and structural problem of the merged configuration."""
    issues: list[ConfigIssue] = []

    def report(section: str, index: int, subpath: YamlPath, message: str) -> None:
        issues.append(provenance.issue(section, index, subpath, message))

    _check_unique_ids(config, provenance, report)
    _check_teams_and_users(config, report)
    for index, schedule in enumerate(config.schedules):
        _check_schedule(config, index, schedule, report)
    for index, policy in enumerate(config.escalation_policies):
        _check_policy(config, index, policy, report)
    _check_services(config, report)
    _check_route_rules(config, report)
    _check_integrations(config, report)
    return issues


def _check_unique_ids(config: OwnershipConfig, provenance: Provenance, report: Report) -> None:
    sections: dict[str, Iterable[str]] = {
        "teams": (item.id for item in config.teams),
        "users": (item.id for item in config.users),
        "schedules": (item.id for item in config.schedules),
        "escalation_policies": (item.id for item in config.escalation_policies),
        "services": (item.id for item in config.services),
        "route_rules": (item.id for item in config.route_rules),
        "integrations": (item.id for item in config.integrations),
    }
    for section, ids in sections.items():
        first_seen: dict[str, int] = {}
        for index, item_id in enumerate(ids):
            if item_id in first_seen:
                origin = provenance.where(section, first_seen[item_id])
                report(section, index, ("id",), f"duplicate id {item_id!r} (first defined at {origin})")
            else:
                first_seen[item_id] = index


def _check_nested_ids(ids: list[str], kind: str, section: str, index: int, field_name: str, report: Report) -> None:
    seen: set[str] = set()
    for position, item_id in enumerate(ids):
        if item_id in seen:
            report(section, index, (field_name, position, "id"), f"duplicate {kind} id {item_id!r}")
        seen.add(item_id)


def _check_teams_and_users(config: OwnershipConfig, report: Report) -> None:
    users = config.users_by_id
    for index, team in enumerate(config.teams):
        for position, member in enumerate(team.members):
            if member not in users:
                report("teams", index, ("members", position), f"unknown user {member!r}")
    for index, user in enumerate(config.users):
        _check_nested_ids(
            [m.id for m in user.contact_methods], "contact method", "users", index, "contact_methods", report
        )
        for position, rule in enumerate(user.notification_rules):
            if rule.contact_method not in user.contact_methods_by_id:
                report(
                    "users",
                    index,
                    ("notification_rules", position, "contact_method"),
                    f"unknown contact method {rule.contact_method!r} of user {user.id!r}",
                )
        chosen = user.shift_reminder_contact_method
        if chosen is not None:
            method = user.contact_methods_by_id.get(chosen)
            if method is None:
                problem = f"unknown contact method {chosen!r} of user {user.id!r}"
            elif method.type is ContactMethodType.VOICE:
                problem = f"contact method {chosen!r} is a voice call: shift reminders go by chat, email or SMS"
            else:
                continue
            report("users", index, ("shift_reminder_contact_method",), problem)


def _check_schedule(config: OwnershipConfig, index: int, schedule: Schedule, report: Report) -> None:
    users = config.users_by_id
    _check_nested_ids([layer.id for layer in schedule.layers], "layer", "schedules", index, "layers", report)
    _check_nested_ids([o.id for o in schedule.overrides], "override", "schedules", index, "overrides", report)
    if not schedule.layers and not schedule.overrides:
        report("schedules", index, (), "empty schedule: no layers and no overrides, it never has anyone on call")
    for position, layer in enumerate(schedule.layers):
        if not layer.participants:
            report("schedules", index, ("layers", position, "participants"), "empty rotation: no participants")
        for slot, participant in enumerate(layer.participants):
            if participant not in users:
                report("schedules", index, ("layers", position, "participants", slot), f"unknown user {participant!r}")
        overlap = windows_overlap(layer.restrictions)
        if overlap is not None:
            report(
                "schedules",
                index,
                ("layers", position, "restrictions", overlap[1]),
                f"overlapping rotation windows: restriction {overlap[1]} overlaps restriction {overlap[0]}",
            )
    for position, override in enumerate(schedule.overrides):
        for name in ("user", "replaces"):
            value = getattr(override, name)
            if value is not None and value not in users:
                report("schedules", index, ("overrides", position, name), f"unknown user {value!r}")
        for earlier in range(position):
            other = schedule.overrides[earlier]
            clash = other.start < override.end and override.start < other.end
            if clash and (None in (other.replaces, override.replaces) or other.replaces == override.replaces):
                report(
                    "schedules",
                    index,
                    ("overrides", position),
                    f"overlapping overrides: {override.id!r} overlaps {other.id!r} for the same person",
                )


def _level_reaches_someone(config: OwnershipConfig, targets: list[tuple[TargetType, str]]) -> bool:
    for target_type, target_id in targets:
        if target_type is TargetType.USER:
            return True
        team = config.teams_by_id.get(target_id) if target_type is TargetType.TEAM else None
        if team is not None and team.members:
            return True
        if target_type is TargetType.SCHEDULE and target_id in config.schedules_by_id:
            schedule = config.schedules_by_id[target_id]
            if any(layer.participants for layer in schedule.layers) or schedule.overrides:
                return True
    return False


def _check_policy(config: OwnershipConfig, index: int, policy: EscalationPolicy, report: Report) -> None:
    known: dict[TargetType, Mapping[str, object]] = {
        TargetType.SCHEDULE: config.schedules_by_id,
        TargetType.USER: config.users_by_id,
        TargetType.TEAM: config.teams_by_id,
    }
    if not policy.levels:
        report("escalation_policies", index, ("levels",), "policy has no reachable target: no levels")
    for position, level in enumerate(policy.levels):
        if not level.targets:
            report(
                "escalation_policies",
                index,
                ("levels", position, "targets"),
                "policy has no reachable target: level has no targets",
            )
            continue
        all_known = True
        for slot, target in enumerate(level.targets):
            if target.id not in known[target.type]:
                all_known = False
                report(
                    "escalation_policies",
                    index,
                    ("levels", position, "targets", slot, "id"),
                    f"unknown {target.type.value} {target.id!r}",
                )
        pairs = [(target.type, target.id) for target in level.targets]
        if all_known and not _level_reaches_someone(config, pairs):
            report(
                "escalation_policies",
                index,
                ("levels", position, "targets"),
                "policy has no reachable target: every target of this level is empty",
            )


def _check_services(config: OwnershipConfig, report: Report) -> None:
    named: dict[str, str] = {}
    for index, service in enumerate(config.services):
        for position, alias in enumerate(service.aliases):
            other = named.get(alias)
            if alias in config.services_by_id and config.services_by_id[alias].id != service.id:
                report("services", index, ("aliases", position), f"alias {alias!r} is the id of another service")
            elif other is not None and other != service.id:
                report("services", index, ("aliases", position), f"alias {alias!r} already names service {other!r}")
            named.setdefault(alias, service.id)
        if service.owner_team not in config.teams_by_id:
            report("services", index, ("owner_team",), f"unknown team {service.owner_team!r}")
        if service.escalation_policy not in config.policies_by_id:
            report(
                "services", index, ("escalation_policy",), f"unknown escalation policy {service.escalation_policy!r}"
            )


def _check_route_rules(config: OwnershipConfig, report: Report) -> None:
    catch_all: str | None = None
    for index, rule in enumerate(config.route_rules):
        if rule.service is not None and rule.service not in config.services_by_id:
            report("route_rules", index, ("service",), f"route to unknown service {rule.service!r}")
        if rule.is_catch_all:
            if catch_all is not None:
                report("route_rules", index, ("match",), f"second catch-all rule (first is {catch_all!r})")
            catch_all = catch_all or rule.id
        for position, matcher in enumerate(rule.match):
            if matcher.op in ("=~", "!~") and matcher.value is not None:
                try:
                    anchored(matcher.value)
                except BadExpression as exc:
                    report("route_rules", index, ("match", position, "value"), f"invalid regular expression: {exc}")


def _check_integrations(config: OwnershipConfig, report: Report) -> None:
    for index, integration in enumerate(config.integrations):
        if integration.service is not None and integration.service not in config.services_by_id:
            report("integrations", index, ("service",), f"unknown service {integration.service!r}")
