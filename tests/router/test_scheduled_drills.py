"""Drills scheduled in the configuration, with clocks under the test's control: two router processes start each run
once, a restarted one starts nothing again, a run found too late is recorded as skipped and never started, and a
silent scheduled run checks the providers through a real notifier speaking to a local Twilio.

The fixture's ``rehearsed`` service has two schedules from 2031 (first Tuesday 14:00 Berlin, paging; Mondays 09:00
Berlin, silent), so the suite's own router, whose clock is near today, never reaches a run by itself; the
"processes" here are router states on the suite's database with their own clocks, and the suite's router consumes
the alert they raise and pages it like any drill.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from alertrouter_notifier.api.app import create_app as notifier_app
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_router.db.pool import connect_arguments
from alertrouter_router.drills.scheduled_drills import DueRun, due_runs, start_due
from alertrouter_router.runtime import RouterRuntime, build_state
from alertrouter_router.state import RouterState
from alertrouter_shared.auth import hash_token
from alertrouter_shared.database import make_engine as notifier_engine
from alertrouter_shared.events import PageKind
from alertrouter_shared.serving import embedded_server
from tests.helpers import TopicReader, eventually, free_port
from tests.providers.servers import TwilioServer
from tests.router.conftest import pages_for, router_settings

NOTIFIER_TOKEN = "router-to-notifier"
TWILIO_SID = "ACf0e1d2c3b4a5968778695a4b3c2d1e0f"


class SetClock:
    """A clock that stands still where the test puts it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@contextlib.asynccontextmanager
async def router_process(
    kafka: str, database_url: str, clock: SetClock, **settings: object
) -> AsyncIterator[RouterState]:
    """One more router process's state (its pool, producer and clock); the test runs its drill pass by hand."""
    state = build_state(router_settings(kafka, database_url, **settings), clock)
    await state.pool
    await state.producer.start()
    try:
        yield state
    finally:
        await state.producer.stop()
        await state.pool.close()
        await state.engine.dispose()


async def _rows(database_url: str, sql: str, *args: object) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(**connect_arguments(database_url))
    try:
        return [dict(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


async def test_a_scheduled_run_starts_once_across_processes_and_restarts_and_a_late_one_is_skipped(
    router: RouterRuntime, api: httpx.AsyncClient, pages: TopicReader, kafka_bootstrap: str, router_database_url: str
) -> None:
    listing = (await api.get("/v1/services/rehearsed/drills")).json()
    assert listing["next_scheduled"] == [
        {
            "schedule": "weekly-check",
            "at": "2031-01-06T08:00:00+00:00",  # the first Monday of 2031, 09:00 in Berlin (UTC+1 in winter)
            "silent": True,
            "rule": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0 in Europe/Berlin",
        },
        {
            "schedule": "monthly",
            "at": "2031-01-07T13:00:00+00:00",  # the first Tuesday, 14:00 in Berlin
            "silent": False,
            "rule": "FREQ=MONTHLY;BYDAY=1TU;BYHOUR=14;BYMINUTE=0 in Europe/Berlin",
        },
    ]
    due_at = _utc(2031, 1, 7, 13)
    clock = SetClock(_utc(2031, 1, 7, 13, 0, 20))
    async with (
        router_process(kafka_bootstrap, router_database_url, clock) as first,
        router_process(kafka_bootstrap, router_database_url, clock) as second,
    ):
        [run] = due_runs(first.configs.current, due_at.replace(hour=12), clock.now())
        assert (run.service_id, run.schedule.id, run.at) == ("rehearsed", "monthly", due_at)
        claimed = await asyncio.gather(start_due(first), start_due(second))
        assert sorted(claimed) == [0, 1]  # both passes ran at once; one process started the run
    key = f"drill:rehearsed:{run.run_id}"
    page = (await eventually(lambda: _paged(pages, key), what="the scheduled drill's page"))[0]
    assert page.drill and page.service_id == "rehearsed" and page.user_id == "alice"
    assert page.summary.startswith("DRILL for Drilled on a schedule")

    # A restarted process (a new one, a minute later) finds the run claimed and starts nothing.
    clock.at = _utc(2031, 1, 7, 13, 1)
    async with router_process(kafka_bootstrap, router_database_url, clock) as restarted:
        assert await start_due(restarted) == 0
    drills = await _rows(router_database_url, "SELECT * FROM router_drill WHERE service_id = 'rehearsed'")
    assert [(d["id"], d["schedule_id"], d["scheduled_at"]) for d in drills] == [(run.run_id, "monthly", due_at)]
    assert drills[0]["requested_by"] == "schedule:monthly" and drills[0]["note"] == "first Tuesday of the month"

    # The February run (4 Feb, 13:00 UTC) is found 40 minutes late: recorded as skipped, never started.
    clock.at = _utc(2031, 2, 4, 13, 40)
    async with router_process(kafka_bootstrap, router_database_url, clock, drill_catch_up_minutes=15) as late:
        assert await start_due(late) == 1
        assert await start_due(late) == 0
        [february] = due_runs(late.configs.current, _utc(2031, 2, 4), clock.now())
    skipped = await _rows(
        router_database_url,
        "SELECT status, drill_id, reason FROM router_scheduled_drill WHERE service_id = 'rehearsed' "
        "AND scheduled_at = $1",
        february.at,
    )
    assert skipped == [
        {
            "status": "skipped",
            "drill_id": None,
            "reason": "not started: 40 minutes late, more than ROUTER_DRILL_CATCH_UP_MINUTES",
        }
    ]
    assert await _rows(router_database_url, "SELECT id FROM router_drill WHERE id = $1", february.run_id) == []

    items = (await api.get("/v1/services/rehearsed/drills")).json()["items"]
    assert [(i["status"], i["scheduled"]) for i in items[:2]] == [
        ("skipped", {"schedule": "monthly", "at": "2031-02-04T13:00:00+00:00"}),
        (items[1]["status"], {"schedule": "monthly", "at": "2031-01-07T13:00:00+00:00"}),
    ]
    assert items[1]["id"] == run.run_id and items[1]["incident"] == page.incident_id
    report = (await api.get(f"/v1/drills/{run.run_id}")).json()
    assert report["scheduled"] == {"schedule": "monthly", "at": "2031-01-07T13:00:00+00:00"}
    assert not pages_for(pages, f"drill:rehearsed:{february.run_id}")
    await api.post(f"/v1/incidents/{page.incident_id}/resolve", json={"by": "alice"})


async def _paged(pages: TopicReader, key: str) -> list[Any] | None:
    found = [p for p in pages_for(pages, key) if p.kind is PageKind.TRIGGER]
    return found or None


@contextlib.asynccontextmanager
async def notifier(database_url: str, twilio: TwilioServer, auth_token: str) -> AsyncIterator[str]:
    """The notifier's API on a port, with Twilio credentials (right or wrong) for the local Twilio."""
    settings = NotifierSettings(
        kafka_bootstrap_servers="127.0.0.1:9",  # the provider check needs no Kafka
        database_url=database_url,
        api_tokens=f"{hash_token(NOTIFIER_TOKEN)}:read",
        twilio_base_url=twilio.url,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=auth_token,
        http_timeout_seconds=2.0,
    )
    engine = notifier_engine(database_url)
    port = free_port()
    async with httpx.AsyncClient() as http:
        server = embedded_server(notifier_app(settings, engine, http=http), "127.0.0.1", port)
        task = asyncio.create_task(server.serve())
        try:
            await eventually(lambda: _started(server), what="the notifier's API")
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task
            await engine.dispose()


async def _started(server: Any) -> bool:
    return bool(server.started)


async def _silent_run(kafka: str, database_url: str, at: datetime, notifier_url: str) -> DueRun:
    """Runs the drill pass of a process whose clock is just after a silent run; returns that run."""
    settings = {"notifier_url": notifier_url, "notifier_api_token": NOTIFIER_TOKEN}
    async with router_process(kafka, database_url, SetClock(at), **settings) as process:
        assert await start_due(process) == 1
        [run] = [d for d in due_runs(process.configs.current, at.replace(hour=0), at) if d.schedule.silent]
    return run


async def test_a_silent_scheduled_run_checks_the_providers_through_the_notifier(
    router: RouterRuntime, api: httpx.AsyncClient, kafka_bootstrap: str, router_database_url: str
) -> None:
    with TwilioServer(account_sid=TWILIO_SID, auth_token="right-token") as twilio:
        async with notifier(router_database_url, twilio, "right-token") as url:
            monday = _utc(2031, 1, 13, 8, 0, 5)  # Monday 09:00:05 in Berlin
            run = await _silent_run(kafka_bootstrap, router_database_url, monday, url)
        report = (await api.get(f"/v1/drills/{run.run_id}")).json()
        assert report["silent"] is True and report["scheduled"] == {
            "schedule": "weekly-check",
            "at": "2031-01-13T08:00:00+00:00",
        }
        providers = {(p["channel"], p["provider"]): p for p in report["providers"]["providers"]}
        assert providers[("sms", "twilio")]["status"] == "ok"  # alice's SMS
        assert providers[("webhook", "-")]["status"] == "not checked"
        assert report["ok"] is True and report["failures"] == []
        assert [r.path for r in twilio.requests] == [f"/2010-04-01/Accounts/{TWILIO_SID}.json"]

        async with notifier(router_database_url, twilio, "revoked-token") as url:
            next_monday = _utc(2031, 1, 20, 8, 0, 5)
            run = await _silent_run(kafka_bootstrap, router_database_url, next_monday, url)
    report = (await api.get(f"/v1/drills/{run.run_id}")).json()
    assert report["ok"] is False and report["status"] == "problems found"
    assert report["failures"] == ["provider twilio (sms) failed its check: twilio: HTTP 401 code 20003: Authenticate"]
    assert "revoked-token" not in str(report)


async def test_without_a_notifier_a_silent_drill_says_providers_were_not_checked(
    router: RouterRuntime, api: httpx.AsyncClient, kafka_bootstrap: str, router_database_url: str
) -> None:
    report = (await api.post("/v1/services/checkout/drills", json={"silent": True})).json()
    assert report["providers"] == {
        "not_checked": "ROUTER_NOTIFIER_URL is not set: provider reachability was not checked"
    }
    assert report["ok"] is True
    unreachable = f"http://127.0.0.1:{free_port()}"
    clock = SetClock(_utc(2031, 1, 27, 8, 0, 5))
    async with router_process(kafka_bootstrap, router_database_url, clock, notifier_url=unreachable) as process:
        assert await start_due(process) == 1
        [run] = [d for d in due_runs(process.configs.current, _utc(2031, 1, 27), clock.now()) if d.schedule.silent]
    found = (await api.get(f"/v1/drills/{run.run_id}")).json()
    assert found["ok"] is False
    assert found["failures"] == ["providers not checked: the notifier did not answer (ConnectError)"]
