"""What a configuration change does, item by item, for a reviewer: ``alertrouter config diff A B`` and the router's
``GET /v1/config/versions/{a}/diff/{b}`` both use this module.

Items are compared by id within each section, field by field on the validated form, so formatting, comments,
file layout and equivalent spellings (``"12h"`` or ``{hours: 12}``, a matcher string or its object) are no
change at all. Route rules are ordered, so a reordering is reported too. Inline integration keys are never
printed, and the stored form of a version (``comparable``) keeps only their digest.

Given an instant, the CLI's diff also says whose shift a change moves (``on_call_now``): whose turn it is follows
from a rotation's start, turn and participant list, so adding a participant hands the running turn to someone
else the moment the router loads the change, which the field-by-field lines do not make obvious.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alertrouter_router.ownership.model import OwnershipConfig, RouteRule
from alertrouter_router.ownership.schedules import on_call_at

SECTIONS = ("teams", "users", "schedules", "escalation_policies", "services", "route_rules", "integrations")
SECRET_FIELDS = frozenset({"key"})
ON_CALL_NOW = "on_call_now"


@dataclass(frozen=True)
class FieldChange:
    path: str
    before: Any
    after: Any


@dataclass
class SectionDiff:
    section: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[FieldChange]] = field(default_factory=dict)
    order: tuple[list[str], list[str]] | None = None
    tried_at: dict[str, tuple[int, int]] = field(default_factory=dict)  # an added route rule: (n, of m) tried

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.order)


def _keyed(items: list[Any]) -> dict[str, Any] | None:
    """A list of objects that all have an id, as a mapping; None for any other list."""
    if items and all(isinstance(item, dict) and "id" in item for item in items):
        return {item["id"]: item for item in items}
    return None


def _compare(before: Any, after: Any, path: str, out: list[FieldChange]) -> None:
    if before == after:
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for name in [*before, *(k for k in after if k not in before)]:
            child = f"{path}.{name}" if path else name
            if name in SECRET_FIELDS and before.get(name) != after.get(name):
                out.append(FieldChange(child, "(secret)", "(secret changed)"))
            else:
                _compare(before.get(name), after.get(name), child, out)
        return
    if isinstance(before, list) and isinstance(after, list):
        old, new = _keyed(before), _keyed(after)
        if old is not None and new is not None:
            for item_id in [*old, *(k for k in new if k not in old)]:
                _compare(old.get(item_id), new.get(item_id), f"{path}[{item_id}]", out)
            # The order of such items can matter (a schedule's later layers cover the earlier ones; the first chat
            # method gets the shift reminders): moved and otherwise unchanged, they read as "no differences".
            kept_old, kept_new = [i for i in old if i in new], [i for i in new if i in old]
            if kept_old != kept_new:
                out.append(FieldChange(f"{path} (order)", kept_old, kept_new))
            return
        if len(before) == len(after) and all(isinstance(item, dict) for item in before + after):
            for index, (one, other) in enumerate(zip(before, after, strict=True)):
                _compare(one, other, f"{path}[{index}]", out)
            return
    out.append(FieldChange(path, before, after))


def comparable(config: OwnershipConfig) -> dict[str, Any]:
    """The validated configuration as JSON, inline keys replaced by their SHA-256: what a stored version keeps, so
    two stored versions compare like the configurations they came from (a changed key still shows as changed)."""
    document = config.model_dump(mode="json")
    for integration in document["integrations"]:
        for name in SECRET_FIELDS & integration.keys():
            if integration[name] is not None:
                integration[name] = "sha256:" + hashlib.sha256(str(integration[name]).encode()).hexdigest()
    return document


def _section(section: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> SectionDiff:
    old = {item["id"]: item for item in before.get(section, [])}
    new = {item["id"]: item for item in after.get(section, [])}
    result = SectionDiff(section, [i for i in new if i not in old], [i for i in old if i not in new])
    for item_id in (i for i in old if i in new):
        changes: list[FieldChange] = []
        _compare(old[item_id], new[item_id], "", changes)
        if changes:
            result.changed[item_id] = changes
    if section == "route_rules":
        tried_old, tried_new = _tried(before.get(section, [])), _tried(after.get(section, []))
        kept_old, kept_new = [i for i in tried_old if i in new], [i for i in tried_new if i in old]
        if kept_old != kept_new:
            result.order = (kept_old, kept_new)
        result.tried_at = {i: (tried_new.index(i) + 1, len(tried_new)) for i in result.added}
    return result


def _tried(rules: list[dict[str, Any]]) -> list[str]:
    """Rule ids in the order the router tries them: the file's, but the catch-all last wherever it is written."""
    catch_all = {rule["id"] for rule in rules if RouteRule.model_validate(rule).is_catch_all}
    return [r["id"] for r in rules if r["id"] not in catch_all] + [r["id"] for r in rules if r["id"] in catch_all]


def diff_documents(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[SectionDiff]:
    """The sections that differ between two configurations in their JSON form, in the configuration's order."""
    return [diff for diff in (_section(name, before, after) for name in SECTIONS) if not diff.empty]


def diff_configs(before: OwnershipConfig, after: OwnershipConfig, at: datetime | None = None) -> list[SectionDiff]:
    """The sections that differ, in the configuration's section order; with ``at``, then whose shift it moves."""
    diffs = diff_documents(before.model_dump(mode="json"), after.model_dump(mode="json"))
    moved = on_call_changes(before, after, at) if at is not None else None
    return [*diffs, moved] if moved is not None and not moved.empty else diffs


def on_call_changes(before: OwnershipConfig, after: OwnershipConfig, at: datetime) -> SectionDiff:
    """For each schedule kept and changed, who is on call at ``at`` before and after the change, where they differ."""
    moved = SectionDiff(ON_CALL_NOW)
    for schedule_id, schedule in after.schedules_by_id.items():
        old = before.schedules_by_id.get(schedule_id)
        if old is None or old == schedule:
            continue
        was = on_call_at(old, before.users_by_id, at).user_id
        will_be = on_call_at(schedule, after.users_by_id, at).user_id
        if was != will_be:
            moved.changed[schedule_id] = [FieldChange("user", was, will_be)]
    return moved


def _value(value: Any) -> str:
    return "(absent)" if value is None else repr(value)


def _tried_at(diff: SectionDiff, item_id: str) -> str:
    """Where an added route rule is tried: put first, it may take alerts another rule routed until now."""
    if item_id not in diff.tried_at:
        return ""
    position, count = diff.tried_at[item_id]
    return f" (tried {position} of {count})"


def render(diffs: list[SectionDiff]) -> str:
    if not diffs:
        return "no differences"
    lines: list[str] = []
    for diff in diffs:
        lines.append(f"{diff.section}:")
        lines += [f"  + {item_id}{_tried_at(diff, item_id)}" for item_id in diff.added]
        lines += [f"  - {item_id}" for item_id in diff.removed]
        for item_id, changes in diff.changed.items():
            lines.append(f"  ~ {item_id}")
            lines += [f"      {c.path}: {_value(c.before)} -> {_value(c.after)}" for c in changes]
        if diff.order is not None:
            lines.append(f"  order: {', '.join(diff.order[0])} -> {', '.join(diff.order[1])}")
    return "\n".join(lines)


def as_json(diffs: list[SectionDiff]) -> list[dict[str, Any]]:
    return [
        {
            "section": diff.section,
            "added": diff.added,
            "removed": diff.removed,
            "changed": {
                item_id: [{"path": c.path, "before": c.before, "after": c.after} for c in changes]
                for item_id, changes in diff.changed.items()
            },
            "order": {"before": diff.order[0], "after": diff.order[1]} if diff.order else None,
            "tried_at": {i: n for i, (n, _) in diff.tried_at.items()},
        }
        for diff in diffs
    ]
