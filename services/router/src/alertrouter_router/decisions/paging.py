"""Pages (pure): one escalation level, resolved at an instant, into pages and the explanation of who and why; the
status updates of those already paged; shift reminders."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alertrouter_router.decisions.incidents import DRILL_TIME_LIMIT, Incident
from alertrouter_router.ownership.escalation_targets import Target, readdressed, targets_for_level
from alertrouter_router.ownership.loader import LoadedConfig
from alertrouter_router.ownership.reminders import Reminder, reminder_text
from alertrouter_router.ownership.shift_changes import ShiftChange, change_text
from alertrouter_shared.events import ContactMethod, ContactMethodType, Page, PageAlert, PageKind, PageShift, Severity

PAGE_ALERTS_SHOWN = 10  # a page names at most this many member alerts; alert_count says how many there are


@dataclass(frozen=True)
class LevelPlan:
    level: int  # 0-based
    round: int
    delay_minutes: int
    targets: list[Target]


@dataclass(frozen=True, slots=True)
class Escalated:
    """An incident moved on to another level: those paged before hear of it (``escalation_updates`` below)."""

    incident_id: str
    round: int
    level: int  # 0-based, the level now paged
    paged: tuple[str, ...]  # who this level pages (their trigger is their news)
    by: str  # the person who escalated; "" when the timer or an unreached level did
    note: str  # "escalated to level 2: dan paged", "alice escalated to level 2: dan paged"
    decision_id: str


def plan_level(config: LoadedConfig, policy_id: str, round_: int, level: int, at: datetime) -> LevelPlan:
    policy = config.policies_by_id[policy_id]
    targets = targets_for_level(config.config, policy, level, at)
    return LevelPlan(level, round_, policy.levels[level].delay_minutes, targets)


def page_id(incident_id: str, round_: int, level: int, user_id: str, contact_method_id: str) -> str:
    """Deterministic, so a page republished after a crash is recognised by the notifier as the same page."""
    return f"{incident_id}:{round_}:{level + 1}:{user_id}:{contact_method_id}"


def explain_targets(plan: LevelPlan) -> list[dict[str, Any]]:
    return [
        {
            "user": t.user_id,
            "name": t.user_name,
            "selected_by": {
                "kind": t.selected_by.kind.value,
                "id": t.selected_by.id,
                "layer": t.selected_by.layer_id,
                "override": t.selected_by.override_id,
                "until": t.selected_by.until.isoformat() if t.selected_by.until else None,
            },
            "notifications": [
                {
                    "contact_method": n.contact_method.id,
                    "type": n.contact_method.type.value,
                    "delay_minutes": n.delay_minutes,
                    "send_at": n.send_at.isoformat(),
                }
                for n in t.notifications
            ],
        }
        for t in plan.targets
    ]


def build_pages(
    config: LoadedConfig,
    incident: Incident,
    plan: LevelPlan,
    decision_id: str,
    now: datetime,
    members: Sequence[PageAlert],
) -> list[Page]:
    service = config.services_by_id.get(incident.service_id or "")
    shown = list(members[:PAGE_ALERTS_SHOWN])
    pages = []
    for target in plan.targets:
        repeats: dict[str, int] = {}
        for note in target.notifications:
            # "SMS now and again after 10 minutes": two rules on one contact method are two pages, so the later
            # one's id names its delay (one id for both kept only the first).
            method = note.contact_method.id
            repeats[method] = repeats.get(method, 0) + 1
            method_part = method if repeats[method] == 1 else f"{method}+{note.delay_minutes}m"
            pages.append(
                Page(
                    page_id=page_id(incident.id, plan.round, plan.level, target.user_id, method_part),
                    kind=PageKind.TRIGGER,
                    incident_id=incident.id,
                    decision_id=decision_id,
                    dedup_key=incident.dedup_key,
                    service_id=incident.service_id or "",
                    service_name=service.name if service else "",
                    team_id=incident.team_id or "",
                    user_id=target.user_id,
                    user_name=target.user_name,
                    contact_method=note.contact_method,
                    escalation_level=plan.level + 1,
                    summary=incident.summary,
                    severity=Severity(incident.severity),
                    labels=incident.labels,
                    runbook_url=service.runbook_url if service else None,
                    alert_count=incident.alert_count,
                    alerts=shown,
                    send_at=note.send_at,
                    created_at=now,
                    drill=incident.drill,
                )
            )
    return pages


def _told(config: LoadedConfig, paged: Sequence[Page], skip: Iterable[str]) -> list[Page]:
    """The trigger pages of those to tell, once per (person, contact method): not ``skip``, not opted out."""
    skipped = set(skip)
    seen: set[tuple[str, str]] = set()
    told = []
    for page in paged:
        user = config.users_by_id.get(page.user_id)
        target = (page.user_id, page.contact_method.id)
        if page.kind is not PageKind.TRIGGER or target in seen or user is None or not user.status_updates:
            continue
        seen.add(target)
        if page.user_id not in skipped:
            told.append(_at_current_address(page, config))
    return told


def _at_current_address(page: Page, config: LoadedConfig) -> Page:
    """A notice goes where the person's contact method points now: after a reload gave them a new number (a phone
    lost or handed back), the incident's news went to the old one, which may be someone else's. Slack excepted: its
    notice edits the message the trigger posted, in the channel it was posted to."""
    if page.contact_method.type is ContactMethodType.SLACK:
        return page
    return readdressed(page, config.config) or page


def _notice(page: Page, page_id: str, kind: PageKind, incident: Incident, decision_id: str, now: datetime) -> Page:
    return page.model_copy(
        update={
            "page_id": page_id,
            "kind": kind,
            "decision_id": decision_id,
            "alert_count": incident.alert_count,
            "send_at": now,
            "created_at": now,
        }
    )


def update_pages(
    config: LoadedConfig, incident: Incident, paged: Sequence[Page], actor: str, decision_id: str, now: datetime
) -> list[Page]:
    """Tell everyone already paged for the incident that it was acknowledged or resolved, once per contact method.

    Not the person who acted, nor anyone who opted out (``status_updates: false``); chat channels are updated in
    place by the notifier rather than re-posted.
    """
    kind = PageKind.RESOLVED if incident.status.value == "resolved" else PageKind.ACKNOWLEDGED
    # Named by the position last paged and the highest round scheduled: an acknowledgement after an escalation
    # (which took the incident back to triggered) is news again, and its notices must not repeat the first one's
    # ids (the outbox and the notifier drop a repeated id). An escalation that paged nobody moves only the
    # scheduled round (its retry). The same decision repeated produces the same ids. Five parts, as
    # console/timeline_words reads them.
    cycle = f"{incident.id}:{kind.value}:{incident.last_round}.{incident.last_level}.{incident.step_round}"
    notices = [
        _notice(page, f"{cycle}:{page.user_id}:{page.contact_method.id}", kind, incident, decision_id, now)
        for page in _told(config, paged, [actor])
    ]
    if actor == DRILL_TIME_LIMIT:  # "[DRILL] [RESOLVED] Checkout: Ended by the drill's time limit. DRILL for …"
        return [n.model_copy(update={"status_note": "ended by the drill's time limit"}) for n in notices]
    return notices


def escalation_updates(
    config: LoadedConfig, incident: Incident, paged: Sequence[Page], escalated: Escalated, now: datetime
) -> list[Page]:
    """Tell those paged before that the incident went on to another level ("escalated to level 2: dan paged").

    Once per contact method they were paged on (each page keeps the level they were paged at), except voice (a
    call that needs no answer would only wake them); not the person who escalated, not those the new level pages
    (their trigger is the news), not anyone who opted out. The page id names the position, so a repeated decision
    produces the same pages.
    """
    step = f"{incident.id}:{PageKind.ESCALATED.value}:{escalated.round}:{escalated.level + 1}"
    told = _told(config, paged, [escalated.by, *escalated.paged])
    return [
        _notice(
            page,
            f"{step}:{page.user_id}:{page.contact_method.id}",
            PageKind.ESCALATED,
            incident,
            escalated.decision_id,
            now,
        ).model_copy(update={"status_note": escalated.note})
        for page in told
        if page.contact_method.type is not ContactMethodType.VOICE
    ]


def reminder_page(config: LoadedConfig, reminder: Reminder, now: datetime, *, again: bool = False) -> Page:
    """A shift reminder as a page of its own kind: no incident, so its ids are the reminder's (stable per person,
    schedule and shift start); the text says which schedule and when, in the person's time zone. ``again``: the
    person was told they were no longer on call for it, and it is theirs again (a page of its own)."""
    page = _reminder_page(config, reminder, now)
    return page.model_copy(update={"page_id": f"{page.page_id}:{now.timestamp():.0f}"}) if again else page


def change_page(config: LoadedConfig, change: ShiftChange, now: datetime) -> Page:
    """A change to a shift already announced (``ownership/shift_changes.py``), on the reminder's channel and in its
    thread: the shift's hours from ``from_at`` as they are now (until the told end for a stand-down)."""
    user, schedule = config.users_by_id[change.user_id], config.schedules_by_id[change.schedule_id]
    reminder = Reminder(
        change.user_id,
        change.schedule_id,
        change.rows[-1],
        change.new_end or change.ends_at,
        now,
        False,
        False,
        change.contact_method,
    )
    page = _reminder_page(config, reminder, now)
    kind = "stood_down" if change.new_end is None else "new_end"
    shift = page.shift.model_copy(update={"starts_at": change.from_at, "change": kind}) if page.shift else None
    summary = change_text(change, schedule, user)
    return page.model_copy(
        update={"page_id": f"{page.page_id}:{now.timestamp():.0f}", "summary": summary, "shift": shift}
    )


def _reminder_page(config: LoadedConfig, reminder: Reminder, now: datetime) -> Page:
    user = config.users_by_id[reminder.user_id]
    schedule = config.schedules_by_id[reminder.schedule_id]
    method = reminder.contact_method
    return Page(
        page_id=f"shift:{reminder.id}:{method.id}",
        kind=PageKind.SHIFT_REMINDER,
        incident_id=reminder.id,
        decision_id=reminder.id,
        dedup_key=f"shift:{schedule.id}:{user.id}",
        service_id="",
        team_id="",
        user_id=user.id,
        user_name=user.name,
        contact_method=ContactMethod(id=method.id, type=method.type, address=method.address),
        summary=reminder_text(reminder, schedule, user, now),
        severity=Severity.INFO,
        send_at=now,
        created_at=now,
        shift=PageShift(
            schedule_id=schedule.id,
            schedule_name=schedule.name,
            starts_at=reminder.starts_at,
            ends_at=reminder.ends_at,
            time_zone=user.time_zone,
            override=reminder.override,
        ),
    )
