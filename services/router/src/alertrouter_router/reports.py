"""The on-call health report: how a team's on-call is going, computed from what the router stored (pure).

The read layer (``db/report_reads.py``) returns plain rows: incidents opened in the window with their first
acknowledgement and the highest escalation level paged, and pages sent to people. This module turns them, the
configuration (people's time zones, services' owning teams) and the window into the report. Definitions, also in
docs/reports.md:

- MTTA: first acknowledgement - opened; MTTR: resolved - opened; never below zero (pods' clocks differ). Median
  and p90 by the nearest-rank method (the smallest value with at least p % of the values at or below it); null
  when there is no value.
- Incidents count when opened in the window; their acknowledgement and resolution count whenever they came.
- A page is what one routing decision sent to one person (an escalation level, an "escalate now", a reassign),
  counted once however many contact methods carried it; only notifications actually published count, and the
  page's time is its first one's. Night is 22:00-07:00 and weekend Saturday and Sunday, in the person's own time
  zone at that instant (zoneinfo, exact across DST changes): the zone of the configuration the page was decided
  under, so a person who moved or left keeps the nights they were woken.
- Longest unacknowledged: the largest time from opening to the first acknowledgement; an incident never
  acknowledged counts until it was resolved, or until now while it is still open.
- Escalated past level 1: incidents that paged level 2 or a later one (in any round).
- Weeks: ISO weeks starting Monday 00:00 UTC that overlap the window; each counts only what is inside the window.
- Drills are left out everywhere: their incidents and their pages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from alertrouter_router.ownership.model import OwnershipConfig

NIGHT_STARTS = time(22, 0)
NIGHT_ENDS = time(7, 0)
WEEKEND = (5, 6)  # Saturday, Sunday (date.weekday())
UNKNOWN_ZONE = "UTC"  # a person no longer in the configuration is placed in UTC


@dataclass(frozen=True, slots=True)
class IncidentRow:
    id: str
    service_id: str | None
    team_id: str | None  # the team stored when it was opened; the configuration's owner comes first
    opened_at: datetime
    acknowledged_at: datetime | None  # the first acknowledgement, even if a later cycle cleared it
    resolved_at: datetime | None
    highest_level: int | None  # the highest 1-based escalation level paged
    drill: bool


@dataclass(frozen=True, slots=True)
class PageRow:
    """One published notification: one contact method of one person, for one routing decision."""

    incident_id: str
    decision_id: str
    user_id: str
    service_id: str | None
    team_id: str | None
    at: datetime  # when it was due to go out (the outbox's send_at)
    drill: bool
    time_zone: str | None = None  # the person's zone in the configuration version that decided it; None: not kept


@dataclass(frozen=True, slots=True)
class Directory:
    """What the report needs of the configuration: people's time zones and services' owning teams."""

    time_zones: Mapping[str, str]
    service_teams: Mapping[str, str]

    @classmethod
    def of(cls, config: OwnershipConfig) -> Directory:
        return cls(
            time_zones={u.id: u.time_zone for u in config.users},
            service_teams={s.id: s.owner_team for s in config.services},
        )

    def team_of(self, service_id: str | None, stored_team: str | None) -> str | None:
        return self.service_teams.get(service_id or "", stored_team)

    def services_of(self, team: str | None) -> list[str]:
        return sorted(s for s, t in self.service_teams.items() if team is None or t == team)


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime
    until: datetime
    team: str | None = None

    def holds(self, at: datetime) -> bool:
        return self.since <= at < self.until


class Spread(BaseModel):
    median: float | None = Field(description="nearest-rank median (p50) in seconds; null without data")
    p90: float | None = Field(description="nearest-rank 90th percentile in seconds; null without data")


class ServiceHealth(BaseModel):
    service: str
    team: str | None
    incidents: int = Field(description="incidents opened in the window (drills excluded)")
    mtta_seconds: Spread = Field(description="first acknowledgement - opened, over the acknowledged incidents")
    mttr_seconds: Spread = Field(description="resolved - opened, over the resolved incidents")
    escalated_past_level_1: int = Field(description="incidents that paged level 2 or later")
    longest_unacknowledged_seconds: float | None = Field(
        description="the largest opened → first acknowledgement time; never acknowledged: until resolved, or now"
    )
    longest_unacknowledged_incident: str | None


class PersonLoad(BaseModel):
    user: str
    time_zone: str = Field(
        description="the person's configured time zone (of their last page when they left the configuration); each "
        "page's night and weekend are judged in the zone the person had when it was sent"
    )
    pages: int = Field(description="pages sent to the person: one per routing decision, not per contact method")
    night_pages: int = Field(description="pages at 22:00-07:00 in the person's time zone")
    weekend_pages: int = Field(description="pages on Saturday or Sunday in the person's time zone")


class WeekHealth(BaseModel):
    week_start: datetime = Field(description="Monday 00:00 UTC of the ISO week")
    incidents: int
    pages: int
    mtta_median_seconds: float | None
    mttr_median_seconds: float | None


class OncallReport(BaseModel):
    team: str | None = Field(description="the team asked for; null: every team")
    since: datetime
    until: datetime
    services: list[ServiceHealth]
    people: list[PersonLoad]
    weeks: list[WeekHealth]


def nearest_rank(values: Iterable[float], percent: int) -> float | None:
    """The smallest value with at least ``percent`` % of the values at or below it (rank ⌈p·n/100⌉)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, -(-percent * len(ordered) // 100))
    return ordered[rank - 1]


def spread(values: Sequence[float]) -> Spread:
    return Spread(median=nearest_rank(values, 50), p90=nearest_rank(values, 90))


def is_night(local: datetime) -> bool:
    return local.time() >= NIGHT_STARTS or local.time() < NIGHT_ENDS


def is_weekend(local: datetime) -> bool:
    return local.weekday() in WEEKEND


def week_start(at: datetime) -> datetime:
    day = at.astimezone(UTC)
    monday = day.date() - timedelta(days=day.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)


def _seconds(start: datetime, end: datetime) -> float:
    """Never below zero: the router pods stamping an opening and its acknowledgement (or resolution) each read their
    own clock, and one a little behind made an acknowledgement come before its trigger: a negative time to
    acknowledge, pulling the median and p90 below what anyone took."""
    return max(0.0, (end - start).total_seconds())


def _unacknowledged(incident: IncidentRow, now: datetime) -> float:
    return _seconds(incident.opened_at, incident.acknowledged_at or incident.resolved_at or now)


def _mtta(incidents: Iterable[IncidentRow]) -> list[float]:
    return [_seconds(i.opened_at, i.acknowledged_at) for i in incidents if i.acknowledged_at is not None]


def _mttr(incidents: Iterable[IncidentRow]) -> list[float]:
    return [_seconds(i.opened_at, i.resolved_at) for i in incidents if i.resolved_at is not None]


def _service_health(service: str, team: str | None, incidents: Sequence[IncidentRow], now: datetime) -> ServiceHealth:
    longest = max(incidents, key=lambda i: (_unacknowledged(i, now), -i.opened_at.timestamp()), default=None)
    return ServiceHealth(
        service=service,
        team=team,
        incidents=len(incidents),
        mtta_seconds=spread(_mtta(incidents)),
        mttr_seconds=spread(_mttr(incidents)),
        escalated_past_level_1=sum(1 for i in incidents if (i.highest_level or 1) >= 2),
        longest_unacknowledged_seconds=None if longest is None else _unacknowledged(longest, now),
        longest_unacknowledged_incident=None if longest is None else longest.id,
    )


def _person_load(user: str, zone_name: str | None, pages: Sequence[PageRow]) -> PersonLoad:
    """Each page judged in the zone the person had when paged (a reload since, moving or removing them, does not
    turn their nights into days); a page whose version is not kept, in the zone they have now, else in UTC."""
    known = [p for p in pages if p.time_zone is not None]
    latest = max(known, key=lambda p: p.at).time_zone if known else None
    shown = zone_name or latest or UNKNOWN_ZONE
    local = [p.at.astimezone(ZoneInfo(p.time_zone or zone_name or UNKNOWN_ZONE)) for p in pages]
    return PersonLoad(
        user=user,
        time_zone=shown,
        pages=len(pages),
        night_pages=sum(1 for t in local if is_night(t)),
        weekend_pages=sum(1 for t in local if is_weekend(t)),
    )


def _weeks(window: Window, incidents: Sequence[IncidentRow], pages: Sequence[PageRow]) -> list[WeekHealth]:
    opened: dict[datetime, list[IncidentRow]] = defaultdict(list)
    paged: dict[datetime, int] = defaultdict(int)
    for incident in incidents:
        opened[week_start(incident.opened_at)].append(incident)
    for page in pages:
        paged[week_start(page.at)] += 1
    weeks = []
    start = week_start(window.since)
    while start < window.until:
        members = opened[start]
        weeks.append(
            WeekHealth(
                week_start=start,
                incidents=len(members),
                pages=paged[start],
                mtta_median_seconds=nearest_rank(_mtta(members), 50),
                mttr_median_seconds=nearest_rank(_mttr(members), 50),
            )
        )
        start += timedelta(days=7)
    return weeks


def person_pages(notifications: Iterable[PageRow]) -> list[PageRow]:
    """One page per (routing decision, person), at its first notification: a person paged by webhook and, two
    minutes later, by SMS was paged once."""
    first: dict[tuple[str, str], PageRow] = {}
    for row in notifications:
        key = (row.decision_id, row.user_id)
        if key not in first or row.at < first[key].at:
            first[key] = row
    return list(first.values())


def oncall_report(
    incidents: Iterable[IncidentRow],
    pages: Iterable[PageRow],
    directory: Directory,
    window: Window,
    now: datetime,
) -> OncallReport:
    """The report for ``window`` (its team, or every team), as of ``now``.

    Rows may be a superset (other teams, drills, outside the window): everything is filtered here, so the rules
    live in one place and the SQL only narrows what it reads.
    """

    def ours(service_id: str | None, stored_team: str | None) -> bool:
        return window.team is None or directory.team_of(service_id, stored_team) == window.team

    counted = sorted(
        (i for i in incidents if not i.drill and window.holds(i.opened_at) and ours(i.service_id, i.team_id)),
        key=lambda i: (i.opened_at, i.id),
    )
    sent = [p for p in person_pages(pages) if not p.drill and window.holds(p.at) and ours(p.service_id, p.team_id)]

    by_service: dict[str, list[IncidentRow]] = {s: [] for s in directory.services_of(window.team)}
    stored_teams: dict[str, str | None] = {}
    for incident in counted:
        service = incident.service_id or "(none)"
        by_service.setdefault(service, []).append(incident)
        stored_teams.setdefault(service, incident.team_id)
    by_person: dict[str, list[PageRow]] = defaultdict(list)
    for page in sent:
        by_person[page.user_id].append(page)
    return OncallReport(
        team=window.team,
        since=window.since,
        until=window.until,
        services=[
            _service_health(s, directory.team_of(s, stored_teams.get(s)), by_service[s], now)
            for s in sorted(by_service)
        ],
        people=[_person_load(u, directory.time_zones.get(u), by_person[u]) for u in sorted(by_person)],
        weeks=_weeks(window, counted, sent),
    )
