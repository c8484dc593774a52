"""``alertrouter report oncall`` as a process against the CLI suite's real router: the JSON is the API's answer,
the table shows the same figures."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from alertrouter_cli.reports import duration
from alertrouter_router.runtime import RouterRuntime
from tests.cli.test_online import cli, failed, open_incident
from tests.helpers import eventually
from tests.router.conftest import CLOCK

pytestmark = [pytest.mark.db, pytest.mark.kafka]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "-"), (0.4, "0s"), (59.6, "1m"), (125.0, "2m 5s"), (480.0, "8m"), (3600.0, "1h"), (95400.0, "26h 30m")],
)
def test_durations_are_short(seconds: float | None, shown: str) -> None:
    assert duration(seconds) == shown


async def test_report_json_is_the_api_answer_and_the_table_shows_it(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, unique: str
) -> None:
    since = (CLOCK.now() - timedelta(seconds=1)).isoformat()
    incident = await open_incident(api, producer, f"cli-report-{unique}")
    CLOCK.advance(timedelta(minutes=2))
    assert (await api.post(f"/v1/incidents/{incident['id']}/acknowledge", json={"by": "alice"})).status_code == 200
    assert (await api.post(f"/v1/incidents/{incident['id']}/resolve", json={"by": "alice"})).status_code == 200
    until = (CLOCK.now() + timedelta(seconds=1)).isoformat()
    window = {"team": "payments", "since": since, "until": until}

    async def counted() -> dict[str, Any] | None:
        """The report once alice's page is in it: a page counts once marked published, which the router does
        after Kafka acknowledged it (read before that, the API said 0 pages and the CLI, a moment later, 1)."""
        report: dict[str, Any] = (await api.get("/v1/reports/oncall", params=window)).json()
        return report if any(p["user"] == "alice" and p["pages"] for p in report["people"]) else None

    expected = await eventually(counted, what="alice's page counted in the report")
    checkout = next(s for s in expected["services"] if s["service"] == "checkout")
    assert checkout["incidents"] == 1 and checkout["longest_unacknowledged_incident"] == incident["id"]
    assert 120 <= checkout["mtta_seconds"]["median"] < 130  # the clock moved two minutes before the acknowledgement

    ran = await cli(router, "report", "oncall", "--team", "payments", "--since", since, "--until", until, "--json")
    assert ran.code == 0 and json.loads(ran.out) == expected
    lines = (await cli(router, "report", "oncall", "-t", "payments", "--since", since, "--until", until)).out
    table = lines.splitlines()
    assert table[0].startswith("on-call health of team payments, ") and table[0].endswith("(drills left out)")
    services = {line.split()[0]: line for line in table if line.split() and line.split()[0] in {"checkout", "storm"}}
    mtta = checkout["mtta_seconds"]
    assert services["checkout"].split()[1:3] == ["payments", "1"]
    assert f"{duration(mtta['median'])} / {duration(mtta['p90'])}" in services["checkout"]
    assert services["checkout"].endswith(f"({incident['id']})")
    people = {line.split()[0]: line.split()[1:] for line in table if line.split() and line.split()[0] == "alice"}
    alice = next(p for p in expected["people"] if p["user"] == "alice")
    assert people["alice"] == [
        alice["time_zone"],
        str(alice["pages"]),
        str(alice["night_pages"]),
        str(alice["weekend_pages"]),
    ]


async def test_report_failures_are_one_line(router: RouterRuntime) -> None:
    failed(await cli(router, "report", "oncall", "--team", "nosuch"), 1, "404 Not Found: team 'nosuch' is not in")
    failed(await cli(router, "report", "oncall", "--since", "2026-01-01T00:00:00"), 1, "has no UTC offset")
    failed(
        await cli(router, "report", "oncall", "--since", "-1d", "--until", "-2d"), 1, "422 Unprocessable Entity: since"
    )
