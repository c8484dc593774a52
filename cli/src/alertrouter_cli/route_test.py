"""``route test``: what the router would decide for an alert's labels, offline, from a configuration folder.

Like ``amtool config routes test``, but to the end of the chain: the route (rule and matched labels, or the
label the service was taken from), the service, its team and policy, and who each escalation level reaches,
resolved at the instant that level would fire if nobody acknowledged, with the layer or override that put
each person there. Uses the router's own ownership core, so it answers as the live path does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alertrouter_cli.output import notifications, selected_by, table, when
from alertrouter_router.ownership.escalation_targets import Target, targets_for_level
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_router.ownership.maintenance import active_maintenance
from alertrouter_router.ownership.routing import FROM_LABEL, resolve_route


def parse_labels(items: list[str]) -> dict[str, str]:
    """``k=v`` pairs; a value may itself contain ``=``. Raises ValueError naming the malformed item."""
    labels: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"label {item!r} is not name=value")
        labels[name.strip()] = value
    return labels


def _target(target: Target) -> dict[str, Any]:
    selection = target.selected_by
    return {
        "user": target.user_id,
        "name": target.user_name,
        "selected_by": {
            "kind": selection.kind.value,
            "id": selection.id,
            "layer": selection.layer_id,
            "override": selection.override_id,
            "until": selection.until.isoformat() if selection.until else None,
        },
        "notifications": [
            {
                "contact_method": n.contact_method.id,
                "type": n.contact_method.type.value,
                "delay_minutes": n.delay_minutes,
            }
            for n in target.notifications
        ],
    }


def _levels(loaded: LoadedConfig, policy_id: str, at: datetime) -> list[dict[str, Any]]:
    policy = loaded.policies_by_id[policy_id]
    levels: list[dict[str, Any]] = []
    fires_at = at
    for index, level in enumerate(policy.levels):
        targets = targets_for_level(loaded.config, policy, index, fires_at)
        reaches = any(target.notifications for target in targets)
        levels.append(
            {
                "level": index + 1,
                "fires_at": fires_at.isoformat(),
                "delay_minutes": level.delay_minutes,
                "reaches_anyone": reaches,
                "targets": [_target(target) for target in targets],
            }
        )
        if reaches:  # the router skips a level that reaches nobody at once, without waiting its delay
            fires_at += timedelta(minutes=level.delay_minutes)
    return levels


def route_test(
    loaded: LoadedConfig, labels: dict[str, str], at: datetime, integration: str | None = None
) -> dict[str, Any]:
    """The whole answer as data (the ``--json`` output; the table is rendered from it)."""
    bound = None
    if integration is not None:
        found = loaded.integrations_by_id.get(integration)
        if found is None:
            raise ValueError(f"integration {integration!r} is not in the configuration")
        bound = found.service
    route = resolve_route(loaded.config, labels, bound)
    result: dict[str, Any] = {
        "at": at.isoformat(),
        "config_version": loaded.version,
        "labels": labels,
        "route": {
            "rule": route.rule_id,
            "reason": route.reason,
            "bound_service": route.bound_service,
            "service_from_label": (
                {"label": route.service_label, "value": route.service_label_value} if route.service_label else None
            ),
            "matched": [
                {"label": m.label, "op": m.op, "value": m.value, "actual": m.actual}
                for m in route.matched
                if m.op != FROM_LABEL
            ],
        },
        "service": route.service_id,
        "team": route.team_id,
        "policy": route.escalation_policy_id,
        "maintenance": False,
        "levels": [],
    }
    if route.service_id is None or route.escalation_policy_id is None:
        return result
    service = loaded.services_by_id[route.service_id]
    result["maintenance"] = active_maintenance(service, at) is not None
    result["levels"] = _levels(loaded, route.escalation_policy_id, at)
    return result


def render(result: dict[str, Any], loaded: LoadedConfig) -> str:
    """The answer for people: a header of facts, then one row per person per level."""
    labels = " ".join(f"{k}={v}" for k, v in result["labels"].items()) or "(none)"
    lines = [f"labels:   {labels}", f"at:       {when(result['at'])}", f"route:    {result['route']['reason']}"]
    if result["service"] is None:
        lines.append("service:  none: the alert would be recorded as unrouted and page nobody")
        return "\n".join(lines)
    service = loaded.services_by_id[result["service"]]
    team = loaded.teams_by_id.get(result["team"] or "")
    policy = loaded.policies_by_id[result["policy"]]
    lines += [
        f"service:  {service.id} ({service.name})",
        f"team:     {service.owner_team}" + (f" ({team.name})" if team else ""),
        f"policy:   {policy.id} ({policy.name}), levels repeat {policy.repeat} more time(s)",
    ]
    if result["maintenance"]:
        lines.append("maintenance: the service is in a configured maintenance window: nobody would be paged")
    rows: list[list[str]] = []
    for level in result["levels"]:
        fires = when(level["fires_at"])
        if not level["targets"]:
            rows.append([str(level["level"]), fires, "(nobody)", "", "", "", ""])
        for target in level["targets"]:
            selection = target["selected_by"]
            rows.append(
                [
                    str(level["level"]),
                    fires,
                    target["user"],
                    target["name"],
                    selected_by(selection),
                    when(selection["until"]) if selection["until"] else "-",
                    notifications(target["notifications"]),
                ]
            )
    headers = ["LEVEL", "FIRES", "USER", "NAME", "SELECTED BY", "UNTIL", "NOTIFIED BY"]
    return "\n".join(lines) + "\n\n" + table(headers, rows)
