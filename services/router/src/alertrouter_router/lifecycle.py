"""Incident lifecycle for one alert event: trigger, acknowledge or resolve, and the decision it produces.

Ordering rules, by event time: a trigger that happened before the latest resolve of its key is out of order and
pages nobody; a repeated Alertmanager firing of an episode already resolved (same ``starts_at``) does not reopen
it; a resolve with no open incident is kept as a resolved tombstone for exactly that check.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from alertrouter_router import escalation, incidents, outbox
from alertrouter_router.context import EventContext
from alertrouter_router.decisions import Decision, Outcome
from alertrouter_router.maintenance import active_window
from alertrouter_router.metrics import INCIDENTS_OPENED, INCIDENTS_RESOLVED, MTTA, MTTR, PAGES_EMITTED
from alertrouter_router.ownership.routing import RouteMatch, resolve_route
from alertrouter_router.paging import build_pages, explain_targets, plan_level
from alertrouter_shared.events import AlertAction, AlertEvent
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)


def _event_explanation(event: AlertEvent, route: RouteMatch, config_version: str) -> dict[str, Any]:
    return {
        "event": {
            "event_id": str(event.event_id),
            "source": event.source.value,
            "integration": event.integration_id,
            "action": event.action.value,
            "dedup_key": event.dedup_key,
            "summary": event.summary,
            "severity": event.severity.value,
            "labels": event.labels,
            "occurred_at": event.occurred_at.isoformat(),
            "received_at": event.received_at.isoformat(),
        },
        "route": {
            "rule": route.rule_id,
            "reason": route.reason,
            "bound_service": route.bound_service,
            "matched": [{"label": m.label, "op": m.op, "value": m.value, "actual": m.actual} for m in route.matched],
            "service": route.service_id,
            "team": route.team_id,
            "policy": route.escalation_policy_id,
        },
        "config_version": config_version,
    }


def _starts_at(event: AlertEvent) -> datetime | None:
    raw = event.details.get("starts_at")
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


async def process_event(ctx: EventContext, event: AlertEvent, max_age_seconds: int) -> Decision:
    route = resolve_route(ctx.config.config, event.labels, event.bound_service)
    base = Decision(
        outcome=Outcome.NO_ROUTE,
        reason="",
        event_id=str(event.event_id),
        dedup_key=event.dedup_key,
        service_id=route.service_id,
        team_id=route.team_id,
        policy_id=route.escalation_policy_id,
        config_version=ctx.config.version,
        explanation=_event_explanation(event, route, ctx.config.version),
    )
    if event.action is AlertAction.TRIGGER:
        await _on_trigger(ctx, event, route, base, max_age_seconds)
    elif event.action is AlertAction.ACKNOWLEDGE:
        await _on_acknowledge(ctx, event, base)
    else:
        await _on_resolve(ctx, event, base)
    ctx.writes.decide(base, ctx.now, count=not ctx.dry_run)
    return base


async def _on_trigger(
    ctx: EventContext, event: AlertEvent, route: RouteMatch, base: Decision, max_age_seconds: int
) -> None:
    current = await ctx.incidents.current(ctx.conn, event.dedup_key)
    if current is not None and current.status != incidents.RESOLVED:
        await incidents.record_repeat(ctx.conn, current.id, event.occurred_at, event.summary)
        _set(base, Outcome.DUPLICATE, f"incident {current.id} is already open for this dedup key", current)
        return
    if current is not None and _out_of_order(event, current, base):
        return
    if route.service_id is None or route.escalation_policy_id is None:
        _set(base, Outcome.NO_ROUTE, route.reason, None)
        return
    service = ctx.config.services_by_id[route.service_id]
    if service.grouping_window_seconds:
        grouped = await _join_group(ctx, event, service.id, service.grouping_window_seconds)
        if grouped is not None:
            _set(base, Outcome.SUPPRESSED, f"grouped into incident {grouped.id} (window for {service.id})", grouped)
            base.explanation["suppressed_by"] = "grouping"
            return
    created = await _open(ctx, event, route, service.grouping_window_seconds)
    if created is None:  # another replica opened it in the meantime: it is a repeat
        await _on_trigger(ctx, event, route, base, max_age_seconds)
        return
    if not ctx.dry_run:
        INCIDENTS_OPENED.labels(route.service_id).inc()
    age = (ctx.now - event.received_at).total_seconds()
    if age > max_age_seconds:
        reason = f"event was received {age:.0f}s ago (backlog; max {max_age_seconds}s): no page"
        _set(base, Outcome.SUPPRESSED, reason, created)
        base.explanation["suppressed_by"] = "stale"
        return
    window = await active_window(ctx.conn, ctx.windows, service, ctx.now)
    if window is not None:
        _set(base, Outcome.SUPPRESSED, f"service {service.id} is in maintenance: {window}", created)
        base.explanation["suppressed_by"] = "maintenance"
        return
    await escalate(ctx, created, 0, 0, base)


def _out_of_order(event: AlertEvent, last: incidents.Incident, base: Decision) -> bool:
    """Is this trigger older than the last resolve of its key, or a repeat of an episode already resolved?"""
    if last.resolved_at is None:
        return False
    starts_at = _starts_at(event)
    if starts_at is not None and last.episode_started_at == starts_at:
        _set(base, Outcome.SUPPRESSED, f"this episode was already resolved in incident {last.id}", last)
        base.explanation["suppressed_by"] = "resolved_episode"
        return True
    if event.occurred_at < last.resolved_at:
        reason = f"trigger happened before the resolve of incident {last.id} ({last.resolved_at.isoformat()})"
        _set(base, Outcome.SUPPRESSED, reason, last)
        base.explanation["suppressed_by"] = "out_of_order"
        return True
    return False


async def _join_group(ctx: EventContext, event: AlertEvent, service_id: str, window: int) -> incidents.Incident | None:
    """Serialise grouping per service with a transaction-scoped advisory lock, then join a recent incident."""
    await ctx.conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"group:{service_id}"))))
    recent = await incidents.find_recent_group(ctx.conn, service_id, ctx.now - timedelta(seconds=window))
    if recent is None:
        return None
    await incidents.record_repeat(ctx.conn, recent.id, event.occurred_at, "")
    return await incidents.get(ctx.conn, recent.id)


async def _open(
    ctx: EventContext, event: AlertEvent, route: RouteMatch, window: int | None
) -> incidents.Incident | None:
    starts_at = _starts_at(event)
    return await incidents.open_new(
        ctx.conn,
        {
            "dedup_key": event.dedup_key,
            "service_id": route.service_id,
            "team_id": route.team_id,
            "policy_id": route.escalation_policy_id,
            "summary": event.summary,
            "severity": event.severity.value,
            "labels": event.labels,
            "group_key": route.service_id if window else None,
            "opened_at": ctx.now,
            "first_event_at": event.occurred_at,
            "last_event_at": event.occurred_at,
            "episode_started_at": starts_at,
            "config_version": ctx.config.version,
        },
    )


async def escalate(ctx: EventContext, target: incidents.Incident, round_: int, level: int, base: Decision) -> None:
    """Page (round, level); levels that reach nobody are skipped at once and recorded in the explanation."""
    assert target.policy_id is not None
    policy = ctx.config.policies_by_id[target.policy_id]
    skipped: list[dict[str, Any]] = []
    position: tuple[int, int] | None = (round_, level)
    while position is not None:
        round_, level = position
        plan = plan_level(ctx.config, target.policy_id, round_, level, ctx.now)
        explained = explain_targets(plan)
        if any(t.notifications for t in plan.targets):
            pages = build_pages(ctx.config, target, plan, base.id, ctx.now)
            ctx.writes.pages.extend(pages)
            if not ctx.dry_run:
                PAGES_EMITTED.labels(str(level + 1)).inc(len(pages))
            after = escalation.next_position(round_, level, len(policy.levels), policy.repeat)
            next_due = ctx.now + timedelta(minutes=plan.delay_minutes)
            if after is not None:
                ctx.writes.steps.append(escalation.Step(target.id, after[0], after[1], next_due))
            reason = f"paged level {level + 1} (round {round_ + 1}) of policy {policy.id}: " + ", ".join(
                t["user"] for t in explained if t["notifications"]
            )
            _set(base, Outcome.PAGED, reason, target)
            base.level = level + 1
            base.explanation |= {
                "level": level + 1,
                "round": round_ + 1,
                "targets": explained,
                "skipped_levels": skipped,
                "pages": [p.page_id for p in pages],
                "next_escalation": {"at": next_due.isoformat(), "round": after[0] + 1, "level": after[1] + 1}
                if after
                else None,
            }
            return
        skipped.append({"level": level + 1, "round": round_ + 1, "targets": explained, "reason": "nobody reachable"})
        position = escalation.next_position(round_, level, len(policy.levels), policy.repeat)
    _set(base, Outcome.NOBODY_ON_CALL, f"no level of policy {policy.id} reaches anyone right now", target)
    base.explanation |= {"skipped_levels": skipped, "targets": []}


async def _on_acknowledge(ctx: EventContext, event: AlertEvent, base: Decision) -> None:
    open_incident = await ctx.incidents.open(ctx.conn, event.dedup_key)
    if open_incident is None:
        _set(base, Outcome.ACKNOWLEDGED, "no open incident for this dedup key: recorded, nothing to stop", None)
        return
    await acknowledge(ctx, open_incident, f"source:{event.integration_id}")
    _set(base, Outcome.ACKNOWLEDGED, f"incident {open_incident.id} acknowledged by the source", open_incident)


async def _on_resolve(ctx: EventContext, event: AlertEvent, base: Decision) -> None:
    open_incident = await ctx.incidents.open(ctx.conn, event.dedup_key)
    if open_incident is None:
        tombstone = await incidents.insert_tombstone(
            ctx.conn,
            {
                "dedup_key": event.dedup_key,
                "service_id": base.service_id,
                "team_id": base.team_id,
                "policy_id": base.policy_id,
                "summary": event.summary,
                "severity": event.severity.value,
                "labels": event.labels,
                "opened_at": ctx.now,
                "first_event_at": event.occurred_at,
                "last_event_at": event.occurred_at,
                "episode_started_at": _starts_at(event),
                "resolved_at": event.occurred_at,
                "resolved_by": f"source:{event.integration_id}",
                "config_version": ctx.config.version,
            },
        )
        base.incident_id = tombstone
        base.outcome, base.reason = Outcome.RESOLVED, "no open incident: the resolve is kept for ordering checks"
        return
    await resolve(ctx, open_incident, f"source:{event.integration_id}", event.occurred_at)
    _set(base, Outcome.RESOLVED, f"incident {open_incident.id} resolved by the source", open_incident)


async def acknowledge(ctx: EventContext, target: incidents.Incident, by: str) -> None:
    await ctx.writes.flush_and_log(ctx.conn)  # the steps and pages to cancel may still be buffered
    await incidents.set_status(ctx.conn, target.id, incidents.ACKNOWLEDGED, ctx.now, by)
    await escalation.cancel_all(ctx.conn, target.id)
    await outbox.cancel_pending(ctx.conn, target.id)
    if target.service_id and not ctx.dry_run:
        MTTA.labels(target.service_id).observe(max(0.0, (ctx.now - target.opened_at).total_seconds()))


async def resolve(ctx: EventContext, target: incidents.Incident, by: str, at: datetime | None = None) -> None:
    resolved_at = max(at or ctx.now, target.opened_at)
    await ctx.writes.flush_and_log(ctx.conn)  # the steps and pages to cancel may still be buffered
    await incidents.set_status(ctx.conn, target.id, incidents.RESOLVED, resolved_at, by)
    await escalation.cancel_all(ctx.conn, target.id)
    await outbox.cancel_pending(ctx.conn, target.id)
    if target.service_id and not ctx.dry_run:
        INCIDENTS_RESOLVED.labels(target.service_id).inc()
        MTTR.labels(target.service_id).observe(max(0.0, (ctx.now - target.opened_at).total_seconds()))


def _set(base: Decision, outcome: Outcome, reason: str, target: incidents.Incident | None) -> None:
    base.outcome = outcome
    base.reason = reason
    if target is not None:
        base.incident_id = target.id
        base.explanation["incident"] = {"id": target.id, "status": target.status, "alert_count": target.alert_count}
