"""The SRE API against the running router: auth, on-call, preview equals live, decisions, config reload."""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import icalendar
import pytest
from aiokafka import AIOKafkaProducer

from alertrouter_router.db.pool import connect_arguments
from alertrouter_router.runtime import RouterRuntime
from alertrouter_shared.clock import OffsetClock
from tests.helpers import eventually
from tests.router.conftest import READ_ONLY_TOKEN, alert_event, send


def base(router: RouterRuntime) -> str:
    return f"http://127.0.0.1:{router.state.settings.port}"


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 401), ({"Authorization": "Basic abc"}, 401)],
)
async def test_api_requires_a_valid_token(router: RouterRuntime, headers: dict[str, str], status: int) -> None:
    async with httpx.AsyncClient(base_url=base(router)) as client:
        response = await client.get("/v1/services", headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status


async def test_a_read_only_bootstrap_token_is_a_viewer_and_health_is_open(router: RouterRuntime) -> None:
    async with httpx.AsyncClient(base_url=base(router)) as client:
        headers = {"Authorization": f"Bearer {READ_ONLY_TOKEN}"}
        assert (await client.get("/v1/teams", headers=headers)).status_code == 200
        forbidden = await client.post("/v1/config/reload", headers=headers)
        assert forbidden.status_code == 403
        assert "needs the admin role" in forbidden.json()["detail"]
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"database": True, "kafka": True, "config": True}
        assert "alertrouter_router_decisions_total" in (await client.get("/metrics")).text


async def test_oncall_for_service_names_schedule_and_layer(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/oncall", params={"service": "checkout", "at": "2026-07-01T12:00:00Z"})
    assert response.status_code == 200
    levels = response.json()["levels"]
    assert [lvl["level"] for lvl in levels] == [1, 2]
    first = levels[0]["targets"][0]
    assert first["user"] == "alice"
    assert first["selected_by"]["kind"] == "schedule" and first["selected_by"]["layer"] == "weekly"
    assert levels[1]["targets"][0]["selected_by"] == {
        "kind": "user",
        "id": "bob",
        "layer": None,
        "override": None,
        "until": None,
    }
    assert (await api.get("/v1/oncall", params={"service": "nope"})).status_code == 404
    assert (await api.get("/v1/oncall", params={"team": "payments"})).json()["team"] == "payments"
    assert (await api.get("/v1/oncall", params={"service": "checkout", "at": "2026-07-01T12:00:00"})).status_code == 422
    # years a schedule cannot name: the calculation overflowed (500); a clear 422 now
    for at in ("9999-12-30T00:00:00Z", "0001-01-02T00:00:00Z"):
        far = await api.get("/v1/oncall", params={"service": "checkout", "at": at})
        assert far.status_code == 422 and "is not between 1970-01-01 and 2200-01-01" in far.text, far.text
    shifts = await api.get("/v1/schedules/payments-primary/shifts", params={"from": "9999-12-01T00:00:00Z"})
    assert shifts.status_code == 422, shifts.text


async def test_shifts_and_calendar(api: httpx.AsyncClient) -> None:
    response = await api.get(
        "/v1/schedules/payments-primary/shifts", params={"from": "2026-03-23T00:00:00Z", "to": "2026-04-06T00:00:00Z"}
    )
    shifts = response.json()["shifts"]
    assert shifts and all(s["user"] == "alice" for s in shifts)
    ical = await api.get("/v1/schedules/payments-primary/calendar.ics")
    assert ical.headers["content-type"].startswith("text/calendar")
    assert b"BEGIN:VCALENDAR" in ical.content


async def test_preview_matches_live_decision(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, router_clock: OffsetClock, unique: str
) -> None:
    key = f"am:test-am:{unique}"
    labels = {"service": "checkout", "alertname": "Preview"}
    at = router_clock.now().isoformat()
    preview = (await api.post("/v1/route/preview", json={"labels": labels, "dedup_key": key, "at": at})).json()
    assert preview["outcome"] == "paged" and preview["preview"] is True
    # No side effects: nothing was recorded for that key.
    assert (await api.get("/v1/decisions", params={"dedup_key": key})).json()["items"] == []

    await send(producer, alert_event(key, labels))

    async def live() -> dict[str, Any] | None:
        items = (await api.get("/v1/decisions", params={"dedup_key": key})).json()["items"]
        return items[0] if items else None

    decision = await eventually(live, what="the live decision")
    for field in ("outcome", "service", "team", "policy", "level"):
        live_value = decision[{"service": "service_id", "team": "team_id", "policy": "policy_id"}.get(field, field)]
        assert preview[field] == live_value, field
    assert preview["explanation"]["route"] == decision["explanation"]["route"]
    assert [t["user"] for t in preview["explanation"]["targets"]] == [
        t["user"] for t in decision["explanation"]["targets"]
    ]
    # A preview of the same key now sees the open incident.
    again = (await api.post("/v1/route/preview", json={"labels": labels, "dedup_key": key})).json()
    assert again["outcome"] == "duplicate"

    text = (await api.get(f"/v1/decisions/{decision['id']}/explain")).text
    assert "routed to service checkout" in text and "Alice Example" in text and "layer weekly" in text


async def test_decision_filters_and_cursor(api: httpx.AsyncClient, producer: AIOKafkaProducer, unique: str) -> None:
    key = f"am:test-am:{unique}"
    for _ in range(5):
        await send(producer, alert_event(key, {"service": "checkout"}))

    async def five() -> list[Any] | None:
        items = (await api.get("/v1/decisions", params={"dedup_key": key})).json()["items"]
        return items if len(items) == 5 else None

    await eventually(five, what="five decisions")
    page1 = (await api.get("/v1/decisions", params={"dedup_key": key, "limit": 2})).json()
    page2 = (
        await api.get("/v1/decisions", params={"dedup_key": key, "limit": 2, "cursor": page1["next_cursor"]})
    ).json()
    page3 = (
        await api.get("/v1/decisions", params={"dedup_key": key, "limit": 2, "cursor": page2["next_cursor"]})
    ).json()
    ids = [d["id"] for d in page1["items"] + page2["items"] + page3["items"]]
    assert len(ids) == len(set(ids)) == 5
    assert page3["next_cursor"] is None
    dupes = (await api.get("/v1/decisions", params={"dedup_key": key, "outcome": "duplicate"})).json()["items"]
    assert len(dupes) == 4


async def test_config_reload_rejects_invalid_and_keeps_serving(
    router: RouterRuntime, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    holder = router.state.configs
    original_path, before = holder.path, holder.current.version
    copy = tmp_path / "ownership.yaml"
    shutil.copy(original_path, copy)
    holder.path = str(copy)
    try:
        copy.write_text(
            copy.read_text().replace("escalation_policy: payments-default", "escalation_policy: missing", 1)
        )
        rejected = await api.post("/v1/config/reload")
        assert rejected.status_code == 422
        assert any("missing" in e for e in rejected.json()["errors"])
        assert (await api.get("/v1/config")).json()["version"] == before

        copy.write_text(copy.read_text().replace("escalation_policy: missing", "escalation_policy: payments-default"))
        copy.write_text(copy.read_text().replace("name: Checkout", "name: Checkout (renamed)"))
        accepted = await api.post("/v1/config/reload")
        assert accepted.status_code == 200 and accepted.json()["version"] != before
    finally:
        holder.path = original_path
        holder.reload("api", "client:test")
    assert (await api.get("/v1/config")).json()["version"] == before


async def test_calendar_feed_matches_the_shifts_api(api: httpx.AsyncClient, router: RouterRuntime) -> None:
    now = router.state.clock.now()
    ical = await api.get("/v1/schedules/payments-primary/calendar.ics", params={"days": 28})
    events = list(icalendar.Calendar.from_ical(ical.content).walk("VEVENT"))
    from_feed = sorted((e.decoded("DTSTART"), e.decoded("DTEND")) for e in events)
    shifts = (
        await api.get(
            "/v1/schedules/payments-primary/shifts",
            params={"from": now.isoformat(), "to": (now + timedelta(days=28)).isoformat()},
        )
    ).json()["shifts"]
    from_api = sorted((datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])) for s in shifts)
    assert from_feed and len(from_feed) == len(from_api)
    # The feed keeps whole shifts (stable UIDs); the API clips to the range: same shifts, same order.
    for (feed_start, feed_end), (api_start, api_end) in zip(from_feed, from_api, strict=True):
        assert feed_start <= api_start < api_end <= feed_end


async def test_a_preview_of_an_alert_ingest_would_refuse_is_422(router: RouterRuntime, api: httpx.AsyncClient) -> None:
    """A label value over the event contract's limit made the alert the preview builds fail validation: 500."""
    huge = await api.post("/v1/route/preview", json={"labels": {"service": "checkout", "note": "x" * 131_073}})
    assert huge.status_code == 422 and huge.headers["content-type"] == "application/problem+json", huge.text
    assert "labels" in huge.json()["detail"]


async def test_preview_takes_no_lock_writes_nothing_and_shows_the_whole_timeline(
    router: RouterRuntime, api: httpx.AsyncClient, router_database_url: str, router_clock: OffsetClock, unique: str
) -> None:
    """Problem 8: preview ran the write path rolled back, taking row and advisory locks a read token could hold."""
    key = f"am:test-am:{unique}"
    await api.post("/v1/route/preview", json={"labels": {"service": "storm"}, "dedup_key": key})  # warm up
    holder = await asyncpg.connect(**connect_arguments(router_database_url))
    counts = (
        "SELECT (SELECT count(*) FROM router_alert), (SELECT count(*) FROM router_incident), "
        "(SELECT count(*) FROM router_decision)"
    )
    try:
        before = tuple(await holder.fetchrow(counts))
        # Hold what the live path would take for this preview: the storm grouping lock and every incident row.
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT pg_advisory_xact_lock(hashtext('group:storm'))")
        await holder.execute("SELECT id FROM router_incident FOR UPDATE")
        response = await asyncio.wait_for(
            api.post("/v1/route/preview", json={"labels": {"service": "storm"}, "dedup_key": key}), timeout=5
        )
        await transaction.rollback()
        assert response.status_code == 200, response.text
        assert tuple(await holder.fetchrow(counts)) == before
    finally:
        await holder.close()
    body = response.json()
    steps = [
        (s["round"], s["level"], s["targets"][0]["user"] if s["targets"] else None) for s in body["escalation_timeline"]
    ]
    assert steps == [(1, 1, "alice"), (1, 2, "bob"), (2, 1, "alice"), (2, 2, "bob")]
    at = datetime.fromisoformat(body["at"])
    assert [datetime.fromisoformat(s["at"]) - at for s in body["escalation_timeline"]] == [
        timedelta(0),
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(minutes=20),
    ]
    first = body["escalation_timeline"][0]["targets"][0]
    assert first["selected_by"]["layer"] == "weekly"
    assert {n["contact_method"]: n["delay_minutes"] for n in first["notifications"]} == {
        "alice-hook": 0,
        "alice-sms": 2,
    }


async def test_a_weekly_maintenance_window_is_served_as_configured(api: httpx.AsyncClient) -> None:
    """A weekly window's times came back as "02:00:00", which the response model's own "HH:MM" refused: 500."""
    weekly = {
        "time_zone": "Europe/Berlin",
        "start_day": "sunday",
        "start_time": "02:00",
        "end_day": "sunday",
        "end_time": "04:00",
    }
    listed = await api.get("/v1/services")
    one = await api.get("/v1/services/frozen")
    windows = await api.get("/v1/services/frozen/maintenance")
    assert [r.status_code for r in (listed, one, windows)] == [200, 200, 200]
    frozen = next(s for s in listed.json()["services"] if s["id"] == "frozen")
    assert frozen["maintenance_windows"][1]["weekly"] == one.json()["maintenance_windows"][1]["weekly"] == weekly
    assert windows.json()["configured"][1]["weekly"] == weekly
