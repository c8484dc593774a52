"""Team health: the on-call report (``GET /v1/reports/oncall``, whose route function this page calls) as charts —
incidents and pages per week, the MTTA/MTTR trend, pages per person with those at night and at weekends — and the
per-service numbers as a table."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from alertrouter_router.api.report_routes import oncall_health
from alertrouter_router.console.charts import bar_chart, line_chart
from alertrouter_router.console.errors import ConsoleError
from alertrouter_router.console.rendering import render
from alertrouter_router.console.session import Session, console_session
from alertrouter_router.reports import OncallReport

router = APIRouter()
Signed = Annotated[Session, Depends(console_session)]
WEEKS = (4, 8, 12, 26)


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def charts(report: OncallReport) -> list[object]:
    weeks = [f"{w.week_start:%d %b}" for w in report.weeks]
    people = [p.user for p in report.people]
    return [
        bar_chart(
            "Incidents and pages per week",
            weeks,
            {"incidents": [w.incidents for w in report.weeks], "pages": [w.pages for w in report.weeks]},
            counts=True,
        ),
        line_chart(
            "Median time to acknowledge and to resolve, per week (minutes)",
            weeks,
            {
                "MTTA": [_minutes(w.mtta_median_seconds) for w in report.weeks],
                "MTTR": [_minutes(w.mttr_median_seconds) for w in report.weeks],
            },
            unit="m",
        ),
        bar_chart(
            "Pages per person: all, at night (22:00-07:00 their time), at weekends",
            people,
            {
                "pages": [p.pages for p in report.people],
                "night": [p.night_pages for p in report.people],
                "weekend": [p.weekend_pages for p in report.people],
            },
            counts=True,
        ),
    ]


@router.get("/ui/health")
async def health(request: Request, session: Signed) -> Response:
    config = session.state.configs.current.config
    mine = sorted(session.who.teams)
    team = request.query_params.get("team", mine[0] if mine else "")
    try:
        weeks = int(request.query_params.get("weeks", "8"))
    except ValueError:
        weeks = 8
    weeks = weeks if weeks in WEEKS else 8
    until = session.state.clock.now()
    try:
        report = await oncall_health(session.state, team or None, until - timedelta(weeks=weeks), until)
    except HTTPException as exc:
        raise ConsoleError(exc.status_code, str(exc.detail)) from exc
    return render(
        request,
        "health.html",
        session,
        report=report,
        charts=charts(report),
        team=team,
        teams=config.teams,
        weeks=weeks,
        week_choices=WEEKS,
    )
