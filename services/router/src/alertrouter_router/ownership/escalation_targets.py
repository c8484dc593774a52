"""Who a policy level reaches at an instant, how each person was selected, and when each is notified.

Used alike by the live path, the preview API and ``GET /v1/oncall``, so what a preview shows is what the
live path does. Levels are 0-based here; pages count escalation levels from 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from alertrouter_router.ownership.model import EscalationPolicy, OwnershipConfig, TargetType
from alertrouter_router.ownership.people import User
from alertrouter_router.ownership.schedules import on_call_at
from alertrouter_shared.events import ContactMethod, Page


@dataclass(frozen=True)
class Selection:
    """How a person was selected: a schedule (with layer or override), directly, or as a team member."""

    kind: TargetType
    id: str
    layer_id: str | None = None
    override_id: str | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class PlannedNotification:
    contact_method: ContactMethod
    delay_minutes: int
    send_at: datetime


@dataclass(frozen=True)
class Target:
    user_id: str
    user_name: str
    selected_by: Selection
    notifications: tuple[PlannedNotification, ...]


@dataclass(frozen=True)
class LevelTargets:
    level_index: int
    delay_minutes: int
    targets: tuple[Target, ...]


def notification_plan(user: User, at: datetime) -> tuple[PlannedNotification, ...]:
    """The user's notification rules as concrete sends, in time order (rules to unknown methods skipped)."""
    plan = []
    for rule in user.notification_rules:
        method = user.contact_methods_by_id.get(rule.contact_method)
        if method is None:
            continue
        contact = ContactMethod(id=method.id, type=method.type, address=method.address)
        plan.append(PlannedNotification(contact, rule.delay_minutes, at + timedelta(minutes=rule.delay_minutes)))
    return tuple(sorted(plan, key=lambda item: (item.send_at, item.contact_method.id)))


def readdressed(page: Page, config: OwnershipConfig) -> Page | None:
    """The page sent to its contact method's address in ``config``, or None when that is the address it carries.

    A delayed page (a notification rule's ``delay_minutes``) was decided minutes ago; a reload since may have given
    the person a new number or mailbox, and the old one may be a phone they no longer carry. A contact method the
    reload removed keeps the address decided: sending there is better than sending nowhere."""
    user = config.users_by_id.get(page.user_id)
    method = user.contact_methods_by_id.get(page.contact_method.id) if user is not None else None
    if method is None or (method.type, method.address) == (page.contact_method.type, page.contact_method.address):
        return None
    contact = ContactMethod(id=method.id, type=method.type, address=method.address)
    return page.model_copy(update={"contact_method": contact})


def _selections(
    config: OwnershipConfig, policy: EscalationPolicy, level_index: int, at: datetime
) -> list[tuple[str, Selection]]:
    found: list[tuple[str, Selection]] = []
    for target in policy.levels[level_index].targets:
        if target.type is TargetType.USER:
            found.append((target.id, Selection(TargetType.USER, target.id)))
        elif target.type is TargetType.TEAM:
            team = config.teams_by_id.get(target.id)
            found.extend((member, Selection(TargetType.TEAM, target.id)) for member in (team.members if team else []))
        else:
            schedule = config.schedules_by_id.get(target.id)
            if schedule is None:
                continue
            on_call = on_call_at(schedule, config.users_by_id, at)
            if on_call.user_id is not None:
                selection = Selection(
                    TargetType.SCHEDULE, schedule.id, on_call.layer_id, on_call.override_id, on_call.until
                )
                found.append((on_call.user_id, selection))
    return found


def targets_for_level(
    config: OwnershipConfig, policy: EscalationPolicy, level_index: int, at: datetime
) -> list[Target]:
    """The people level ``level_index`` reaches at ``at``, each once (first selection wins), in target order."""
    if not 0 <= level_index < len(policy.levels):
        raise IndexError(f"policy {policy.id!r} has no level {level_index}")
    targets: list[Target] = []
    seen: set[str] = set()
    for user_id, selection in _selections(config, policy, level_index, at):
        user = config.users_by_id.get(user_id)
        if user is None or user_id in seen:
            continue
        seen.add(user_id)
        targets.append(Target(user.id, user.name, selection, notification_plan(user, at)))
    return targets


def targets_by_level(config: OwnershipConfig, policy: EscalationPolicy, at: datetime) -> list[LevelTargets]:
    """Every level resolved at the same instant ``at``: the shape of ``GET /v1/oncall``."""
    return [
        LevelTargets(index, level.delay_minutes, tuple(targets_for_level(config, policy, index, at)))
        for index, level in enumerate(policy.levels)
    ]


def level_for_step(policy: EscalationPolicy, step: int) -> int | None:
    """The level index of the ``step``-th escalation (0-based, counting repeats), None once exhausted."""
    if step < 0 or not policy.levels or step >= len(policy.levels) * (policy.repeat + 1):
        return None
    return step % len(policy.levels)
