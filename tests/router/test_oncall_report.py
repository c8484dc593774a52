"""The on-call health report against a real router: incidents made on the normal path (Kafka alert → router →
outbox → pages topic; acknowledge, escalate now and resolve through the API, a level escalating on its timer),
then the report compared with figures computed by hand, a drill that must count nowhere included.

The router here has its own database, its own configuration (people in Los Angeles, Berlin and UTC) and a clock
that stands still until the test moves it, so every instant, and every figure, is exact. Like the notifier
suite's router it shares the session's broker for this module only; the suite's router, if running, finds no
route for these services. After a restart, with nothing in memory, the router answers the same.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from alertrouter_router.db.migrate import upgrade_to_head
from alertrouter_router.runtime import RouterRuntime
from alertrouter_router.settings import RouterSettings
from alertrouter_shared.events import AlertAction, AlertEvent, AlertSource, Page, PageKind
from alertrouter_shared.problems import PROBLEM_CONTENT_TYPE
from tests.helpers import DatabaseFactory, TopicReader, eventually, free_port
from tests.router.conftest import READ_ONLY_TOKEN, TOKEN, router_settings, send, skip_earlier_alerts

pytestmark = [pytest.mark.db, pytest.mark.kafka]

CONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "router" / "report_ownership.yaml"
SINCE, UNTIL = "2026-11-02T00:00:00Z", "2026-11-16T00:00:00Z"  # two ISO weeks, Monday to Monday


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class StillClock:
    """Stands still until moved (forward only): what the router stamps is exactly what the test chose."""

    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at

    def set(self, text: str) -> None:
        moved = at(text)
        assert moved >= self.at, f"the clock only moves forward: {moved} < {self.at}"
        self.at = moved


CLOCK = StillClock(at("2026-11-06T05:00:00Z"))


def _client(runtime: RouterRuntime, token: str = TOKEN) -> httpx.AsyncClient:
    base = f"http://127.0.0.1:{runtime.state.settings.port}"
    return httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the configuration the module's router reads: a test changes it and reloads, then puts it back."""
    copy = tmp_path_factory.mktemp("report-config") / "ownership.yaml"
    copy.write_text(CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    return copy


@pytest.fixture(scope="module")
async def report_router(
    kafka_bootstrap: str, databases: DatabaseFactory, config_file: Path
) -> AsyncIterator[RouterRuntime]:
    url = databases.create()
    await asyncio.to_thread(upgrade_to_head, url, 30)
    settings = router_settings(kafka_bootstrap, url, config_path=str(config_file))
    await skip_earlier_alerts(kafka_bootstrap, settings.consumer_group)
    runtime = RouterRuntime(settings, clock=CLOCK)
    await runtime.start()
    yield runtime
    if not runtime.state.stopping.is_set():  # the restart test stops it itself
        runtime.stop()
        await asyncio.wait_for(runtime.wait(), 30)


@pytest.fixture(scope="module")
async def api(report_router: RouterRuntime) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(report_router) as client:
        yield client


@dataclass(frozen=True)
class Played:
    incidents: dict[str, str]  # name in this test → incident id
    drill_incident: str


class Scenario:
    def __init__(self, api: httpx.AsyncClient, producer: AIOKafkaProducer, pages: TopicReader, tag: str) -> None:
        self.api, self.producer, self.pages, self.tag = api, producer, pages, tag

    async def trigger(self, name: str, service: str, when: str) -> str:
        """An alert at ``when`` (the router's clock, too); returns the incident it opened."""
        CLOCK.set(when)
        key = f"am:test-am:{self.tag}-{name}"
        event = AlertEvent(
            source=AlertSource.ALERTMANAGER,
            integration_id="test-am",
            action=AlertAction.TRIGGER,
            dedup_key=key,
            summary=f"{name} on {service}",
            labels={"service": service, "alertname": name},
            occurred_at=CLOCK.now(),
            received_at=CLOCK.now(),
        )
        await send(self.producer, event)

        async def opened() -> str | None:
            items = (await self.api.get("/v1/decisions", params={"dedup_key": key})).json()["items"]
            return next((d["incident_id"] for d in items if d["outcome"] == "paged"), None)

        incident = await eventually(opened, what=f"the incident of {key}")
        await self.paged(incident, 1)
        return incident

    async def paged(self, incident: str, count: int) -> list[Page]:
        """Wait until ``count`` trigger pages of the incident are on the pages topic (published)."""

        async def found() -> list[Page] | None:
            seen = [Page.model_validate_json(v) for v in self.pages.values]
            mine = [p for p in seen if p.incident_id == incident and p.kind is PageKind.TRIGGER]
            return mine if len(mine) >= count else None

        return await eventually(found, what=f"{count} page(s) of incident {incident}")

    async def act(self, incident: str, action: str, when: str, by: str) -> None:
        CLOCK.set(when)
        response = await self.api.post(f"/v1/incidents/{incident}/{action}", json={"by": by})
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
async def played(
    report_router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, pages: TopicReader
) -> Played:
    """The hand-computed fixture. Los Angeles is on PST (UTC-8), Berlin on CET (UTC+1) all through."""
    s = Scenario(api, producer, pages, uuid.uuid4().hex[:8])
    # I1, api, Friday 06:00Z: lena at Thursday 22:00 in LA (night); she acknowledges after 2 min, resolves at 30.
    i1 = await s.trigger("i1", "api", "2026-11-06T06:00:00Z")
    await s.act(i1, "acknowledge", "2026-11-06T06:02:00Z", "lena")
    await s.act(i1, "resolve", "2026-11-06T06:30:00Z", "lena")
    # I2, api, Saturday 12:00Z: lena at 04:00 LA (night, weekend); nobody answers, level 2 after 5 min: bert at
    # 13:05 Berlin (weekend) on two contact methods; he acknowledges after 8 min, resolves after an hour.
    i2 = await s.trigger("i2", "api", "2026-11-07T12:00:00Z")
    CLOCK.set("2026-11-07T12:05:00Z")
    level_two = await s.paged(i2, 3)
    assert sorted(p.contact_method.id for p in level_two if p.escalation_level == 2) == ["bert-hook", "bert-mail"]
    await s.act(i2, "acknowledge", "2026-11-07T12:08:00Z", "bert")
    await s.act(i2, "resolve", "2026-11-07T13:00:00Z", "bert")
    # I3, db, Monday 05:30Z: lena at Sunday 21:30 LA (weekend); escalated at once to bert (Monday 06:31 Berlin,
    # night), resolved after 20 min without anyone acknowledging.
    i3 = await s.trigger("i3", "db", "2026-11-09T05:30:00Z")
    await s.act(i3, "escalate", "2026-11-09T05:31:00Z", "lena")
    await s.paged(i3, 3)
    await s.act(i3, "resolve", "2026-11-09T05:50:00Z", "bert")
    # A drill of api, Wednesday 10:00Z (02:00 in LA): paged, acknowledged, resolved, and counted nowhere.
    CLOCK.set("2026-11-11T10:00:00Z")
    started = await api.post("/v1/services/api/drills", json={"note": "report rehearsal"})
    assert started.status_code == 202, started.text
    drill_key = started.json()["dedup_key"]

    async def drill_opened() -> str | None:
        items = (await api.get("/v1/decisions", params={"dedup_key": drill_key})).json()["items"]
        return next((d["incident_id"] for d in items if d["outcome"] == "paged"), None)

    drill = await eventually(drill_opened, what="the drill's incident")
    assert (await s.paged(drill, 1))[0].drill
    await s.act(drill, "acknowledge", "2026-11-11T10:01:00Z", "lena")
    await s.act(drill, "resolve", "2026-11-11T10:02:00Z", "lena")
    # I5, site (team web), Thursday 20:00Z: uma (UTC, a weekday evening); acknowledged at 3 min, resolved at 4.
    i5 = await s.trigger("i5", "site", "2026-11-12T20:00:00Z")
    await s.act(i5, "acknowledge", "2026-11-12T20:03:00Z", "uma")
    await s.act(i5, "resolve", "2026-11-12T20:04:00Z", "uma")
    # I6, site, Thursday 21:00Z: uma snoozes it after 1 min for 10; it pages her again at 21:11 (a new decision:
    # a second page), she acknowledges at 21:15 and resolves at 21:20. Its MTTA is the first acknowledgement: 60 s.
    i6 = await s.trigger("i6", "site", "2026-11-12T21:00:00Z")
    CLOCK.set("2026-11-12T21:01:00Z")
    snoozed = await api.post(f"/v1/incidents/{i6}/snooze", json={"by": "uma", "minutes": 10})
    assert snoozed.status_code == 200, snoozed.text
    CLOCK.set("2026-11-12T21:11:00Z")
    await s.paged(i6, 2)
    await s.act(i6, "acknowledge", "2026-11-12T21:15:00Z", "uma")
    await s.act(i6, "resolve", "2026-11-12T21:20:00Z", "uma")
    CLOCK.set("2026-11-13T09:00:00Z")
    return Played({"i1": i1, "i2": i2, "i3": i3, "i5": i5, "i6": i6}, drill)


def _spread(median: float | None, p90: float | None) -> dict[str, float | None]:
    return {"median": median, "p90": p90}


def expected_sre(ids: dict[str, str]) -> dict[str, Any]:
    return {
        "team": "sre",
        "since": SINCE,
        "until": UNTIL,
        "services": [
            {
                "service": "api",
                "team": "sre",
                "incidents": 2,
                "mtta_seconds": _spread(120.0, 480.0),  # [120, 480]: nearest rank 1 and 2
                "mttr_seconds": _spread(1800.0, 3600.0),
                "escalated_past_level_1": 1,
                "longest_unacknowledged_seconds": 480.0,
                "longest_unacknowledged_incident": ids["i2"],
            },
            {
                "service": "db",
                "team": "sre",
                "incidents": 1,
                "mtta_seconds": _spread(None, None),
                "mttr_seconds": _spread(1200.0, 1200.0),
                "escalated_past_level_1": 1,
                "longest_unacknowledged_seconds": 1200.0,  # never acknowledged: until resolved
                "longest_unacknowledged_incident": ids["i3"],
            },
        ],
        "people": [
            {"user": "bert", "time_zone": "Europe/Berlin", "pages": 2, "night_pages": 1, "weekend_pages": 1},
            {"user": "lena", "time_zone": "America/Los_Angeles", "pages": 3, "night_pages": 2, "weekend_pages": 2},
        ],
        "weeks": [
            {
                "week_start": SINCE,
                "incidents": 2,
                "pages": 3,
                "mtta_median_seconds": 120.0,
                "mttr_median_seconds": 1800.0,
            },
            {
                "week_start": "2026-11-09T00:00:00Z",
                "incidents": 1,
                "pages": 2,
                "mtta_median_seconds": None,
                "mttr_median_seconds": 1200.0,
            },
        ],
    }


def expected_everyone(ids: dict[str, str]) -> dict[str, Any]:
    report = expected_sre(ids)
    report["team"] = None
    report["services"].append(
        {
            "service": "site",
            "team": "web",
            "incidents": 2,
            "mtta_seconds": _spread(60.0, 180.0),  # [60, 180]
            "mttr_seconds": _spread(240.0, 1200.0),  # [240, 1200]
            "escalated_past_level_1": 0,
            "longest_unacknowledged_seconds": 180.0,
            "longest_unacknowledged_incident": ids["i5"],
        }
    )
    report["people"].append({"user": "uma", "time_zone": "UTC", "pages": 3, "night_pages": 0, "weekend_pages": 0})
    # that week: I3, I5, I6; pages lena, bert (I3), uma (I5), uma twice (I6); MTTA [60, 180]; MTTR [240, 1200, 1200]
    report["weeks"][1] |= {"incidents": 3, "pages": 5, "mtta_median_seconds": 60.0, "mttr_median_seconds": 1200.0}
    return report


async def _report(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get("/v1/reports/oncall", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_teams_report_matches_the_hand_computed_figures(played: Played, api: httpx.AsyncClient) -> None:
    assert await _report(api, team="sre", since=SINCE, until=UNTIL) == expected_sre(played.incidents)


async def test_the_drill_happened_and_counts_nowhere(played: Played, api: httpx.AsyncClient) -> None:
    drills = (await api.get("/v1/incidents", params={"service": "api", "drill": "true"})).json()["items"]
    assert [(i["id"], i["status"]) for i in drills] == [(played.drill_incident, "resolved")]
    report = await _report(api, team="sre", since="2026-11-11T00:00:00Z", until="2026-11-12T00:00:00Z")
    assert report["services"][0]["incidents"] == 0 and report["people"] == []


async def test_every_team_and_a_viewer_may_read_it(played: Played, report_router: RouterRuntime) -> None:
    async with _client(report_router, READ_ONLY_TOKEN) as viewer:
        assert await _report(viewer, since=SINCE, until=UNTIL) == expected_everyone(played.incidents)


async def test_the_default_window_is_the_28_days_before_now(played: Played, api: httpx.AsyncClient) -> None:
    report = await _report(api, team="web")
    assert (report["since"], report["until"]) == ("2026-10-16T09:00:00Z", "2026-11-13T09:00:00Z")
    assert await _report(api, team="web", until="2026-11-13T10:00:00+01:00") == report  # answered in UTC
    assert [(s["service"], s["incidents"]) for s in report["services"]] == [("site", 2)]
    assert report["weeks"][0]["week_start"] == "2026-10-12T00:00:00Z"


@pytest.mark.parametrize(
    ("params", "status", "detail"),
    [
        ({"since": UNTIL, "until": SINCE}, 422, "must be before until"),
        ({"since": SINCE, "until": SINCE}, 422, "must be before until"),
        ({"since": "2025-11-01T00:00:00Z", "until": UNTIL}, 422, "at most 366"),
        ({"since": "2026-11-02T00:00:00"}, 422, "timezone"),
        ({"until": "yesterday"}, 422, "query.until"),
        ({"team": "nosuch"}, 404, "team 'nosuch' is not in configuration"),
    ],
)
async def test_bad_requests_are_problems(
    report_router: RouterRuntime, api: httpx.AsyncClient, params: dict[str, str], status: int, detail: str
) -> None:
    response = await api.get("/v1/reports/oncall", params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert detail in response.json()["detail"]


async def _reload(api: httpx.AsyncClient, config_file: Path, text: str) -> str:
    config_file.write_text(text, encoding="utf-8")
    reloaded = await api.post("/v1/config/reload")
    assert reloaded.status_code == 200, reloaded.text
    version: str = reloaded.json()["version"]
    return version


async def test_a_reload_moving_a_person_keeps_the_nights_they_were_woken(
    played: Played,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    config_file: Path,
) -> None:
    """lena is paged at 22:00 in Los Angeles, then moves to Berlin (07:00 there: not night). The report judged every
    page in the zone of the configuration now, so her night page became a day page with the reload."""
    original = config_file.read_text(encoding="utf-8")
    first = (await api.get("/v1/config")).json()["version"]

    async def kept() -> bool:
        items = (await api.get("/v1/config/versions")).json()["items"]
        return any(v["version"] == first for v in items)

    await eventually(kept, what="the configuration version in force kept")
    s = Scenario(api, producer, pages, uuid.uuid4().hex[:8])
    incident = await s.trigger("moved", "api", "2026-11-20T06:00:00Z")  # Thursday 22:00 PST, Friday 07:00 CET
    await s.act(incident, "resolve", "2026-11-20T06:01:00Z", "lena")
    window = {"team": "sre", "since": "2026-11-20T00:00:00Z", "until": "2026-11-21T00:00:00Z"}
    lena = {"user": "lena", "time_zone": "America/Los_Angeles", "pages": 1, "night_pages": 1, "weekend_pages": 0}
    assert (await _report(api, **window))["people"] == [lena]

    document = yaml.safe_load(original)
    [moved] = [u for u in document["users"] if u["id"] == "lena"]
    moved["time_zone"] = "Europe/Berlin"
    try:
        assert await _reload(api, config_file, yaml.safe_dump(document, sort_keys=False)) != first
        report = await _report(api, **window)
        assert report["people"] == [lena | {"time_zone": "Europe/Berlin"}]  # still a night page: she was in LA
    finally:
        assert await _reload(api, config_file, original) == first


async def test_the_report_survives_a_router_restart(
    played: Played, report_router: RouterRuntime, api: httpx.AsyncClient
) -> None:
    """Last in this module: it stops the module's router, then starts it again (another port, a later clock)."""
    before = await _report(api, team="sre", since=SINCE, until=UNTIL)
    everyone = await _report(api, since=SINCE, until=UNTIL)
    report_router.stop()
    await asyncio.wait_for(report_router.wait(), 30)
    settings: RouterSettings = report_router.state.settings.model_copy(update={"port": free_port()})
    restarted = RouterRuntime(settings, clock=StillClock(at("2026-12-01T00:00:00Z")))
    await restarted.start()
    try:
        async with _client(restarted) as client:
            again = await _report(client, team="sre", since=SINCE, until=UNTIL)
            assert again == before == expected_sre(played.incidents)
            assert await _report(client, since=SINCE, until=UNTIL) == everyone == expected_everyone(played.incidents)
    finally:
        restarted.stop()
        await asyncio.wait_for(restarted.wait(), 30)
