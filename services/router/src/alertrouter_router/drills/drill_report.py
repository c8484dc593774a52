"""A paging drill's report, read back from what the real path stored — nothing is recorded for the report itself.

From the drill's decisions (routed? suppressed? levels that reached nobody? ended by its time limit?), its pages
in the outbox (when each was published) and the notifier's delivery results in the incident timeline (reached, or
bounced and why): the time to the first page, per level who was paged on which channel and when they were
reached, the time to acknowledge, and every failure. All times are the router's clock, so a test with a
controllable clock can check the figures.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alertrouter_router.decisions.incidents import DRILL_TIME_LIMIT
from alertrouter_router.drills import DrillRun
from alertrouter_shared.events import DeliveryResult, DeliveryStatus, Page, PageKind

REACHED = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)
BOUNCED = (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED, DeliveryStatus.EXPIRED)
_NOT_PAGED = ("no_route", "suppressed", "nobody_on_call")


def _seconds(start: datetime, end: datetime | None) -> float | None:
    """Never below zero: the start, the publication, the reach and the acknowledgement are stamped by different
    pods (the notifier's reach by its own clock), and one a little behind made a drill's page come before it began."""
    return None if end is None else round(max(0.0, (end - start).total_seconds()), 3)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def scheduled(run: DrillRun) -> dict[str, str] | None:
    """Which configured schedule started the run, and for when (None for a run asked for through the API)."""
    if run.schedule_id is None or run.scheduled_at is None:
        return None
    return {"schedule": run.schedule_id, "at": run.scheduled_at.isoformat()}


def _round_of(page: Page) -> int | None:
    """The round is in the deterministic page id: ``<incident>:<round>:<level>:<user>:<contact method>``; None for
    a person's reassignment or added responder (``<incident>:reassign:…``), which no escalation round paged."""
    part = page.page_id[len(page.incident_id) + 1 :].split(":", 1)[0]
    return int(part) + 1 if part.isdigit() else None


def _out_at(published_at: datetime | None, results: list[DeliveryResult]) -> datetime | None:
    """When the page was evidently out: its mark, or the notifier's first result if earlier. The mark is written
    after Kafka acknowledged the page, and meanwhile the notifier can have consumed and delivered it (seen in CI: a
    page marked 1 ms after it was reached)."""
    stamps = [t for t in (published_at, *(r.at for r in results)) if t is not None]
    return min(stamps, default=None)


def _contact(page: Page, published_at: datetime | None, results: list[DeliveryResult]) -> dict[str, Any]:
    reached = min((r.at for r in results if r.status in REACHED), default=None)
    bounced = [r for r in results if r.failed_for_good or r.status in BOUNCED]
    last = max(results, key=lambda r: r.at) if results else None
    failure = None
    if bounced and reached is None:
        worst = bounced[-1]
        failure = worst.failure_reason or f"{worst.channel.value} {worst.status.value}"
        if worst.error:
            failure += f" ({worst.error})"
    return {
        "user": page.user_id,
        "name": page.user_name,
        "channel": page.contact_method.type.value,
        "contact_method": page.contact_method.id,
        "send_at": page.send_at.isoformat(),
        "published_at": _iso(published_at),
        "status": last.status.value if last else ("published" if published_at else "pending"),
        "reached_at": _iso(reached),
        "failure": failure,
    }


def build(
    run: DrillRun,
    incident: dict[str, Any] | None,
    decisions: list[dict[str, Any]],
    pages: list[tuple[Page, datetime | None]],
    deliveries: list[DeliveryResult],
) -> dict[str, Any]:
    """The report of one paging drill (pure): ``pages`` are the outbox rows (page, published at)."""
    start = run.started_at
    by_page: dict[str, list[DeliveryResult]] = {}
    for result in sorted(deliveries, key=lambda r: r.at):
        by_page.setdefault(result.page_id, []).append(result)
    failures: list[str] = []
    for d in decisions:
        if d["outcome"] in _NOT_PAGED:
            failures.append(f"{d['outcome']}: {d['reason']}")
        for skipped in d["explanation"].get("skipped_levels", []):
            failures.append(f"level {skipped['level']} (round {skipped['round']}): nobody on call")
        if d["outcome"] == "escalation_ended":
            failures.append(f"nobody acknowledged: {d['reason']}")
        ended = d["explanation"].get("drill_ended")
        if ended and ended.get("status") != "acknowledged":  # acknowledged and left open: the drill did its job
            failures.append(f"not acknowledged before the drill's time limit ({ended.get('ends_at')})")
    levels: dict[tuple[int, int], dict[str, Any]] = {}
    responders: list[dict[str, Any]] = []
    first_page: datetime | None = None
    first_reached: datetime | None = None
    for page, published_at in sorted(pages, key=lambda p: (p[0].created_at, p[0].page_id)):
        if page.kind is not PageKind.TRIGGER:
            continue
        results = by_page.get(page.page_id, [])
        contact = _contact(page, published_at, results)
        round_ = _round_of(page)
        if round_ is None:  # paged by a person (reassigned, added as a responder): the report raised ValueError
            responders.append(contact)
            where = "responder"
        else:
            key = (round_, page.escalation_level)
            level = levels.setdefault(
                key, {"round": key[0], "level": key[1], "paged_at": page.created_at.isoformat(), "contacts": []}
            )
            level["contacts"].append(contact)
            where = f"level {key[1]}"
        if contact["failure"]:
            failures.append(f"{where}: {page.user_id} not reached on {contact['channel']}: {contact['failure']}")
        out = _out_at(published_at, results)
        if out is not None and (first_page is None or out < first_page):
            first_page = out
        reached = datetime.fromisoformat(contact["reached_at"]) if contact["reached_at"] else None
        if reached is not None and (first_reached is None or reached < first_reached):
            first_reached = reached
    for level in levels.values():
        level["reached"] = [c["user"] for c in level["contacts"] if c["reached_at"]]
    acknowledged_at = incident["acknowledged_at"] if incident else None
    return {
        "id": run.id,
        "service": run.service_id,
        "silent": False,
        "requested_by": run.requested_by,
        "note": run.note,
        "started_at": start.isoformat(),
        "scheduled": scheduled(run),
        "dedup_key": run.dedup_key,
        "status": _status(incident, decisions),
        "incident": incident["id"] if incident else None,
        "time_to_first_page_seconds": _seconds(start, first_page),
        "time_to_first_reach_seconds": _seconds(start, first_reached),
        "time_to_acknowledge_seconds": _seconds(start, acknowledged_at),
        "acknowledged_by": incident["acknowledged_by"] if incident else None,
        "resolved_at": _iso(incident["resolved_at"]) if incident else None,
        "ends_at": _iso(run.ends_at),
        "ended_by": _ended_by(incident),
        "levels": [levels[k] for k in sorted(levels)],
        "responders": responders,
        "failures": failures,
    }


def _ended_by(incident: dict[str, Any] | None) -> str | None:
    """Who resolved the drill's incident: a person, its source, or ``time limit`` (the router, at the drill's end)."""
    if incident is None or incident["resolved_by"] is None:
        return None
    return "time limit" if incident["resolved_by"] == DRILL_TIME_LIMIT else str(incident["resolved_by"])


def _status(incident: dict[str, Any] | None, decisions: list[dict[str, Any]]) -> str:
    if incident is not None:
        return str(incident["status"])
    if not decisions:
        return "waiting for the router"
    return "not paged"


def silent(run: DrillRun) -> dict[str, Any]:
    """The report of a silent drill: the checks stored when it ran."""
    checks = run.checks or {}
    return {
        "id": run.id,
        "service": run.service_id,
        "silent": True,
        "requested_by": run.requested_by,
        "note": run.note,
        "started_at": run.started_at.isoformat(),
        "scheduled": scheduled(run),
        "status": "ok" if checks.get("ok") else "problems found",
        **checks,
    }
