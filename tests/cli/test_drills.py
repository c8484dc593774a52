"""``alertrouter drill run|report|list`` as a process against the real router of the CLI suite."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from alertrouter_router.runtime import RouterRuntime
from tests.cli.test_online import cli, failed
from tests.helpers import eventually
from tests.router.conftest import READ_ONLY_TOKEN

pytestmark = [pytest.mark.db, pytest.mark.kafka]


async def test_paging_drill_run_then_report_and_list(router: RouterRuntime, api: httpx.AsyncClient) -> None:
    ran = await cli(router, "drill", "run", "checkout", "--by", "carol", "--note", "rehearsal", "--minutes", "45")
    assert ran.code == 0, ran
    first, ends, second = ran.out.strip().splitlines()
    drill_id = first.split()[1]
    assert first == f"drill {drill_id} started for checkout: its alert is raised, pages will say DRILL"
    assert ends.startswith("it ends at ") and ends.endswith(" unless resolved before")
    assert second == f"report: alertrouter drill report {drill_id}"
    started = (await api.get(f"/v1/drills/{drill_id}")).json()
    limit = datetime.fromisoformat(started["ends_at"]) - datetime.fromisoformat(started["started_at"])
    assert limit == timedelta(minutes=45)

    async def paged() -> dict[str, Any] | None:
        body: dict[str, Any] = (await api.get(f"/v1/drills/{drill_id}")).json()
        return body if body["levels"] and body["levels"][0]["contacts"][0]["published_at"] else None

    await eventually(paged, what="the drill's first page")
    as_json = await cli(router, "drill", "report", drill_id, "--json")
    assert json.loads(as_json.out) == (await api.get(f"/v1/drills/{drill_id}")).json()
    report = (await cli(router, "drill", "report", drill_id)).out.splitlines()
    assert report[0].startswith(f"drill {drill_id} for checkout, started ") and report[0].endswith(" by carol")
    assert report[1].startswith("status: triggered; incident ") and "; time limit " in report[1]
    assert report[2].startswith("time to first page ") and "acknowledged after -" in report[2]
    row = next(line for line in report if line.startswith("1 "))
    assert row.split()[:4] == ["1", "1", "alice", "webhook"]
    listed = (await cli(router, "drill", "list", "checkout")).out.splitlines()
    assert listed[0].split() == ["ID", "STARTED", "KIND", "STATUS", "BY"]
    assert listed[1].startswith(drill_id) and "paging" in listed[1] and "triggered" in listed[1]
    incident = json.loads(as_json.out)["incident"]
    assert (await api.post(f"/v1/incidents/{incident}/resolve", json={"by": "carol"})).status_code == 200


async def _report_when(
    api: httpx.AsyncClient, drill_id: str, ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = (await api.get(f"/v1/drills/{drill_id}")).json()
        return body if ready(body) else None

    return await eventually(probe, what=f"the report of drill {drill_id}")


async def test_drill_report_lists_those_a_person_paged(router: RouterRuntime, api: httpx.AsyncClient) -> None:
    """A drill reassigned to bob, who acknowledged it: the report said "acknowledged after … (bob)" but printed none
    of bob's pages, which the API's ``responders[]`` has."""
    drill_id = (await cli(router, "drill", "run", "checkout", "--by", "carol")).out.split()[1]
    incident = (await _report_when(api, drill_id, lambda body: bool(body["levels"])))["incident"]
    reassigned = await api.post(f"/v1/incidents/{incident}/reassign", json={"user": "bob", "by": "alice"})
    assert reassigned.status_code == 200, reassigned.text
    assert (await api.post(f"/v1/incidents/{incident}/acknowledge", json={"by": "bob"})).status_code == 200
    body = await _report_when(api, drill_id, lambda body: any(c["published_at"] for c in body["responders"]))
    lines = (await cli(router, "drill", "report", drill_id)).out.splitlines()
    assert lines[2].endswith(" (bob)")
    at = lines.index("paged by a person (reassigned, added as a responder):")
    assert lines[at + 1].split() == ["USER", "CHANNEL", "PAGED", "STATUS", "REACHED"]
    [bob] = body["responders"]
    assert lines[at + 2].split()[:2] == ["bob", "webhook"] and bob["status"] in lines[at + 2].split()
    assert (await api.post(f"/v1/incidents/{incident}/resolve", json={"by": "bob"})).status_code == 200


async def test_silent_drill_prints_the_chain_and_its_failures(router: RouterRuntime) -> None:
    ran = await cli(router, "drill", "run", "checkout", "--silent")
    assert ran.code == 0, ran
    lines = ran.out.splitlines()
    assert lines[0].startswith("silent drill ") and lines[0].endswith(": ok")
    assert next(line for line in lines if line.startswith("1 ")).split() == ["1", "1", "alice", "webhook,", "sms"]
    assert "failures:" not in ran.out
    assert "providers: ROUTER_NOTIFIER_URL is not set: provider reachability was not checked" in lines
    skipper = await cli(router, "drill", "run", "skipper", "--silent")
    assert skipper.out.splitlines()[0].endswith(": problems found")
    assert "  - level 1 (round 1): nobody on call" in skipper.out.splitlines()
    assert next(line for line in skipper.out.splitlines() if line.startswith("1 ")).split()[2] == "(nobody)"


async def test_drill_failures_are_one_line(router: RouterRuntime) -> None:
    failed(await cli(router, "drill", "run", "nosuch"), 1, "404 Not Found: service 'nosuch' not found")
    failed(await cli(router, "drill", "report", "nosuch"), 1, "404 Not Found: drill 'nosuch' not found")
    refused = await cli(router, "drill", "run", "checkout", token=READ_ONLY_TOKEN)
    failed(refused, 4, "403 forbidden: client bootstrap-")


async def test_drill_list_shows_the_next_scheduled_runs(router: RouterRuntime) -> None:
    listed = (await cli(router, "drill", "list", "rehearsed")).out.splitlines()
    assert listed[-2:] == [
        "next scheduled: weekly-check at 2031-01-06 08:00 UTC (silent; FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0 in "
        "Europe/Berlin)",
        "next scheduled: monthly at 2031-01-07 13:00 UTC (paging; FREQ=MONTHLY;BYDAY=1TU;BYHOUR=14;BYMINUTE=0 in "
        "Europe/Berlin)",
    ]


async def test_drill_list_says_that_more_exist(router: RouterRuntime, api: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert (await cli(router, "drill", "run", "skipper", "--silent")).code == 0
    first = (await api.get("/v1/services/skipper/drills", params={"limit": 1})).json()
    listed = (await cli(router, "drill", "list", "skipper", "--limit", "1")).out.splitlines()
    assert listed[1].startswith(first["items"][0]["id"])
    assert listed[2] == f"more drills: add --cursor {first['next_cursor']} for the next page"
    following = await cli(
        router, "drill", "list", "skipper", "--limit", "1", "--cursor", first["next_cursor"], "--json"
    )
    second = (await api.get("/v1/services/skipper/drills", params={"limit": 1, "cursor": first["next_cursor"]})).json()
    assert json.loads(following.out) == second
