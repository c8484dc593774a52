"""The on-call health report as a pure function of stored rows, the configuration and the window (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alertrouter_router.reports import (
    Directory,
    IncidentRow,
    PageRow,
    Window,
    nearest_rank,
    oncall_report,
    week_start,
)

DIRECTORY = Directory(
    time_zones={"lena": "America/Los_Angeles", "bert": "Europe/Berlin", "uma": "UTC"},
    service_teams={"api": "sre", "db": "sre", "site": "web"},
)
WINDOW = Window(datetime(2026, 3, 23, tzinfo=UTC), datetime(2026, 4, 6, tzinfo=UTC))  # two ISO weeks
NOW = datetime(2026, 4, 6, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def incident(
    id_: str,
    opened: str,
    *,
    service: str = "api",
    ack: str | None = None,
    resolved: str | None = None,
    level: int | None = 1,
    drill: bool = False,
    team: str | None = None,
) -> IncidentRow:
    return IncidentRow(
        id=id_,
        service_id=service,
        team_id=team or DIRECTORY.service_teams.get(service),
        opened_at=at(opened),
        acknowledged_at=at(ack) if ack else None,
        resolved_at=at(resolved) if resolved else None,
        highest_level=level,
        drill=drill,
    )


def page(
    user: str,
    when: str,
    *,
    service: str = "api",
    decision: str | None = None,
    drill: bool = False,
    team: str | None = None,
    zone: str | None = None,
) -> PageRow:
    return PageRow(
        incident_id="i",
        decision_id=decision or f"d-{user}-{when}",
        user_id=user,
        service_id=service,
        team_id=team or DIRECTORY.service_teams.get(service),
        at=at(when),
        drill=drill,
        time_zone=zone,
    )


def person(pages: list[PageRow], user: str, window: Window = WINDOW) -> tuple[int, int, int]:
    report = oncall_report([], pages, DIRECTORY, window, NOW)
    [load] = [p for p in report.people if p.user == user]
    return load.pages, load.night_pages, load.weekend_pages


@pytest.mark.parametrize(
    ("user", "when", "night", "weekend"),
    [
        # Europe/Berlin springs forward on Sunday 2026-03-29 at 02:00 → 03:00 (UTC+1 → UTC+2).
        ("bert", "2026-03-29T04:30:00Z", True, True),  # 06:30 CEST: still night on the DST day
        ("bert", "2026-03-29T05:30:00Z", False, True),  # 07:30 CEST (a fixed +1 would say 06:30, night)
        ("bert", "2026-03-28T05:30:00Z", True, True),  # 06:30 CET, the Saturday before
        ("bert", "2026-03-30T05:59:59Z", False, False),  # Monday 07:59:59 CEST
        ("bert", "2026-10-25T05:30:00Z", True, True),  # Berlin falls back that Sunday: 06:30 CET (CEST: 07:30)
        # America/Los_Angeles is already on PDT (UTC-7) since 2026-03-08.
        ("lena", "2026-03-29T04:30:00Z", False, True),  # Saturday 21:30 PDT: weekend, not night
        ("lena", "2026-03-28T05:00:00Z", True, False),  # Friday 22:00 PDT: night starts at 22:00 sharp
        ("lena", "2026-03-28T13:59:59Z", True, True),  # Saturday 06:59:59: night, weekend
        ("lena", "2026-03-28T14:00:00Z", False, True),  # Saturday 07:00: night has ended
        ("lena", "2026-03-30T06:59:59Z", True, True),  # Sunday 23:59:59 PDT: weekend, night
        ("lena", "2026-03-30T07:00:00Z", True, False),  # Monday 00:00 PDT: night, weekend over
        ("uma", "2026-03-27T23:59:59Z", True, False),  # Friday 23:59:59 UTC
        ("uma", "2026-03-28T00:00:00Z", True, True),  # Saturday 00:00 UTC: the weekend starts
        ("uma", "2026-03-28T12:00:00Z", False, True),
        # America/Los_Angeles falls back on Sunday 2026-11-01 at 02:00 PDT → 01:00 PST (UTC-7 → UTC-8).
        ("lena", "2026-11-01T14:30:00Z", True, True),  # 06:30 PST (a fixed -7 would say 07:30, day)
        ("lena", "2026-11-01T15:00:00Z", False, True),  # 07:00 PST
    ],
)
def test_night_and_weekend_are_judged_in_the_persons_time_zone(
    user: str, when: str, night: bool, weekend: bool
) -> None:
    year = Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    assert person([page(user, when)], user, year) == (1, int(night), int(weekend))


def test_the_same_instant_is_night_for_one_person_and_day_for_another() -> None:
    instant = "2026-03-25T06:00:00Z"  # Tuesday 23:00 in Los Angeles, 08:00 in Berlin
    pages = [page("lena", instant, decision="d1"), page("bert", instant, decision="d1")]
    assert person(pages, "lena") == (1, 1, 0)
    assert person(pages, "bert") == (1, 0, 0)


def test_a_page_is_counted_once_per_decision_and_person_at_its_first_notification() -> None:
    pages = [
        page("bert", "2026-03-29T04:58:00Z", decision="d1"),  # webhook at 06:58 CEST: night
        page("bert", "2026-03-29T05:00:00Z", decision="d1"),  # SMS two minutes later at 07:00: not night
        page("bert", "2026-03-31T12:00:00Z", decision="d2"),
    ]
    assert person(pages, "bert") == (2, 1, 1)
    report = oncall_report([], list(reversed(pages)), DIRECTORY, WINDOW, NOW)
    assert [w.pages for w in report.weeks] == [1, 1]


def test_a_page_whose_first_notification_is_before_the_window_is_not_in_it() -> None:
    pages = [
        page("uma", "2026-03-22T23:59:00Z", service="site", decision="d1"),
        page("uma", "2026-03-23T00:01:00Z", service="site", decision="d1"),  # the same page's SMS
        page("uma", "2026-04-05T23:59:59Z", service="site", decision="d2"),  # the last second of the window
        page("uma", "2026-04-06T00:00:00Z", service="site", decision="d3"),  # until is exclusive
    ]
    assert person(pages, "uma") == (1, 1, 1)


def test_a_page_is_judged_in_the_zone_the_person_had_when_paged() -> None:
    """bert was in New York when paged and is in Berlin now; ghost has left: a reload since does not turn the
    nights they were woken into days (or days into nights)."""
    moved = [
        page("bert", "2026-03-24T08:00:00Z", decision="d1", zone="America/New_York"),  # 04:00 EDT: night (Berlin 09:00)
        page("bert", "2026-03-24T12:00:00Z", decision="d2", zone="America/New_York"),  # 08:00 EDT: day
        page("bert", "2026-03-25T05:00:00Z", decision="d3"),  # its version is not kept: his zone now, 06:00 Berlin
    ]
    assert person(moved, "bert") == (3, 2, 0)
    gone = [
        page("ghost", "2026-03-24T09:00:00Z", decision="d1", zone="America/New_York"),  # 05:00 EDT: night (UTC: day)
        page("ghost", "2026-03-28T20:00:00Z", decision="d2", zone="Asia/Tokyo"),  # Sunday 05:00 in Tokyo: night
        page("ghost", "2026-03-30T12:00:00Z", decision="d3"),  # its version not kept, not configured: UTC, day
    ]
    [load] = oncall_report([], gone, DIRECTORY, WINDOW, NOW).people
    assert (load.time_zone, load.pages, load.night_pages, load.weekend_pages) == ("Asia/Tokyo", 3, 2, 1)
    unknown = oncall_report([], [page("ghost", "2026-03-24T09:00:00Z")], DIRECTORY, WINDOW, NOW)
    assert [(p.time_zone, p.night_pages) for p in unknown.people] == [("UTC", 0)]  # no version, not configured


@pytest.mark.parametrize(
    ("values", "median", "p90"),
    [
        ([], None, None),
        ([60.0], 60.0, 60.0),
        ([120.0, 60.0], 60.0, 120.0),  # nearest rank: ⌈0.5·2⌉ = 1st, ⌈0.9·2⌉ = 2nd
        ([1.0, 2.0, 3.0], 2.0, 3.0),
        ([float(v) for v in range(1, 11)], 5.0, 9.0),  # ⌈0.9·10⌉ = 9th
        ([float(v) for v in range(1, 12)], 6.0, 10.0),  # ⌈0.5·11⌉ = 6th, ⌈0.9·11⌉ = 10th
        ([float(v) for v in range(1, 21)], 10.0, 18.0),
    ],
)
def test_median_and_p90_by_nearest_rank(values: list[float], median: float | None, p90: float | None) -> None:
    assert (nearest_rank(values, 50), nearest_rank(values, 90)) == (median, p90)


def test_service_figures_from_hand_computed_incidents() -> None:
    rows = [
        incident("a1", "2026-03-24T10:00:00Z", ack="2026-03-24T10:02:00Z", resolved="2026-03-24T10:30:00Z"),
        incident("a2", "2026-03-25T10:00:00Z", ack="2026-03-25T10:08:00Z", resolved="2026-03-25T11:00:00Z", level=2),
        incident("a3", "2026-03-31T10:00:00Z", ack="2026-03-31T10:01:00Z", level=3),  # still open, acknowledged
        # never acknowledged: resolved after 20 minutes, and one still open 2 hours before now
        incident("d1", "2026-03-30T09:00:00Z", service="db", resolved="2026-03-30T09:20:00Z", level=2),
        incident("d2", "2026-04-05T22:00:00Z", service="db"),
        incident("x", "2026-03-26T10:00:00Z", ack="2026-03-26T12:00:00Z", drill=True, level=2),  # a drill
        incident("old", "2026-03-22T23:59:59Z", ack="2026-03-23T05:00:00Z"),  # opened before the window
    ]
    report = oncall_report(rows, [], DIRECTORY, WINDOW, NOW)
    api, db, site = report.services
    assert api.model_dump() == {
        "service": "api",
        "team": "sre",
        "incidents": 3,
        "mtta_seconds": {"median": 120.0, "p90": 480.0},  # [60, 120, 480]
        "mttr_seconds": {"median": 1800.0, "p90": 3600.0},  # [1800, 3600]
        "escalated_past_level_1": 2,
        "longest_unacknowledged_seconds": 480.0,
        "longest_unacknowledged_incident": "a2",
    }
    assert db.model_dump() == {
        "service": "db",
        "team": "sre",
        "incidents": 2,
        "mtta_seconds": {"median": None, "p90": None},
        "mttr_seconds": {"median": 1200.0, "p90": 1200.0},
        "escalated_past_level_1": 1,
        "longest_unacknowledged_seconds": 7200.0,  # open since 22:00, now is midnight
        "longest_unacknowledged_incident": "d2",
    }
    assert (site.incidents, site.longest_unacknowledged_incident, site.mtta_seconds.median) == (0, None, None)
    weeks = [(w.week_start, w.incidents, w.mtta_median_seconds, w.mttr_median_seconds) for w in report.weeks]
    assert weeks == [
        (at("2026-03-23T00:00:00Z"), 2, 120.0, 1800.0),
        (at("2026-03-30T00:00:00Z"), 3, 60.0, 1200.0),
    ]


def test_drills_count_nowhere() -> None:
    rows = [incident("x", "2026-03-26T10:00:00Z", ack="2026-03-26T12:00:00Z", drill=True, level=2)]
    pages = [page("lena", "2026-03-26T10:00:00Z", drill=True), page("bert", "2026-03-26T10:05:00Z", drill=True)]
    report = oncall_report(rows, pages, DIRECTORY, WINDOW, NOW)
    assert [s.incidents for s in report.services] == [0, 0, 0]
    assert report.people == []
    assert [(w.incidents, w.pages) for w in report.weeks] == [(0, 0), (0, 0)]


def test_a_team_sees_its_services_and_the_people_paged_for_them() -> None:
    rows = [
        incident("a", "2026-03-24T10:00:00Z"),
        incident("s", "2026-03-24T11:00:00Z", service="site"),
        incident("gone", "2026-03-24T12:00:00Z", service="retired", team="sre"),  # no longer configured
    ]
    pages = [
        page("lena", "2026-03-24T10:00:00Z"),
        page("uma", "2026-03-24T11:00:00Z", service="site"),
        page("lena", "2026-03-24T11:00:00Z", service="site", decision="d-site"),  # paged for team web
        page("ghost", "2026-03-24T12:00:00Z", service="retired", team="sre"),  # a person no longer configured
    ]
    sre = oncall_report(rows, pages, DIRECTORY, Window(WINDOW.since, WINDOW.until, "sre"), NOW)
    assert [(s.service, s.team, s.incidents) for s in sre.services] == [
        ("api", "sre", 1),
        ("db", "sre", 0),
        ("retired", "sre", 1),
    ]
    assert [(p.user, p.time_zone, p.pages) for p in sre.people] == [
        ("ghost", "UTC", 1),
        ("lena", "America/Los_Angeles", 1),
    ]
    web = oncall_report(rows, pages, DIRECTORY, Window(WINDOW.since, WINDOW.until, "web"), NOW)
    assert [(s.service, s.incidents) for s in web.services] == [("site", 1)]
    assert [(p.user, p.pages) for p in web.people] == [("lena", 1), ("uma", 1)]
    everyone = oncall_report(rows, pages, DIRECTORY, WINDOW, NOW)
    assert [s.service for s in everyone.services] == ["api", "db", "retired", "site"]
    assert [(p.user, p.pages) for p in everyone.people] == [("ghost", 1), ("lena", 2), ("uma", 1)]


def test_weeks_are_iso_weeks_in_utc_overlapping_the_window() -> None:
    window = Window(at("2026-03-25T12:00:00Z"), at("2026-04-07T00:00:00Z"))  # Wednesday to the next-but-one Tuesday
    rows = [
        incident("before", "2026-03-24T10:00:00Z"),  # the first week, but before the window
        incident("in", "2026-03-29T23:59:59Z"),  # Sunday's last second, UTC (Monday 01:59 in Berlin)
        incident("next", "2026-03-30T00:00:00Z"),
    ]
    report = oncall_report(rows, [], DIRECTORY, window, NOW + timedelta(days=1))
    assert [(w.week_start, w.incidents) for w in report.weeks] == [
        (at("2026-03-23T00:00:00Z"), 1),
        (at("2026-03-30T00:00:00Z"), 1),
        (at("2026-04-06T00:00:00Z"), 0),
    ]
    assert week_start(at("2026-03-30T01:00:00+02:00")) == at("2026-03-23T00:00:00Z")  # still Sunday in UTC


def test_the_report_echoes_its_window_and_team() -> None:
    report = oncall_report([], [], DIRECTORY, Window(WINDOW.since, WINDOW.until, "web"), NOW)
    body = report.model_dump(mode="json")
    assert (body["team"], body["since"], body["until"]) == ("web", "2026-03-23T00:00:00Z", "2026-04-06T00:00:00Z")
    assert body["weeks"][0] == {
        "week_start": "2026-03-23T00:00:00Z",
        "incidents": 0,
        "pages": 0,
        "mtta_median_seconds": None,
        "mttr_median_seconds": None,
    }


@pytest.mark.parametrize(
    ("ack", "resolved", "mtta", "mttr"),
    [
        ("2026-03-24T10:02:00+00:00", "2026-03-24T10:30:00+00:00", 120.0, 1800.0),
        ("2026-03-24T10:00:00+00:00", "2026-03-24T10:00:00+00:00", 0.0, 0.0),
        # stamped by pods whose clocks were behind the one that opened it: before the opening
        ("2026-03-24T09:59:58+00:00", "2026-03-24T10:30:00+00:00", 0.0, 1800.0),
        ("2026-03-24T09:59:58+00:00", "2026-03-24T09:59:59+00:00", 0.0, 0.0),
    ],
)
def test_times_to_acknowledge_and_resolve_are_never_below_zero(
    ack: str, resolved: str, mtta: float, mttr: float
) -> None:
    """An acknowledgement stamped before the trigger (clocks skewed between router pods) gave a negative MTTA,
    pulling a service's median and p90 below what anyone took."""
    opened = incident("skewed", "2026-03-24T10:00:00+00:00", ack=ack, resolved=resolved)
    report = oncall_report([opened], [], DIRECTORY, WINDOW, NOW)
    [api] = [s for s in report.services if s.service == "api"]
    assert (api.mtta_seconds.median, api.mtta_seconds.p90, api.mttr_seconds.median) == (mtta, mtta, mttr)
    assert api.longest_unacknowledged_seconds == mtta
    [week] = [w for w in report.weeks if w.incidents]
    assert (week.mtta_median_seconds, week.mttr_median_seconds) == (mtta, mttr)
