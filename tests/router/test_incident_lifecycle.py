"""Timeline tests on the real path: Kafka alerts topic → router (PostgreSQL) → pages topic.

The router runs in-process with an offset clock: advancing it makes escalation timers due without waiting.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from alertrouter_router.runtime import RouterRuntime
from alertrouter_shared.clock import OffsetClock
from alertrouter_shared.events import AlertAction, PageKind
from tests.helpers import TopicReader, eventually
from tests.router.conftest import alert_event, decisions_for, paged, pages_for, send


async def test_trigger_pages_level_one_then_escalates_then_ack_stops(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    unique: str,
) -> None:
    key = f"am:test-am:{unique}"
    await send(producer, alert_event(key, {"service": "checkout", "alertname": "HighLatency"}))
    first = (await decisions_for(api, key, 1))[0]
    assert first["outcome"] == "paged"
    assert first["level"] == 1
    assert first["explanation"]["route"]["rule"] == "by-service-label"
    assert first["explanation"]["targets"][0]["user"] == "alice"
    assert first["explanation"]["targets"][0]["selected_by"] == {
        "kind": "schedule",
        "id": "payments-primary",
        "layer": "weekly",
        "override": None,
        "until": first["explanation"]["targets"][0]["selected_by"]["until"],
    }
    # The webhook rule has no delay: published at once. The SMS rule waits 2 minutes in the outbox.
    await eventually(lambda: paged(pages, key, 1), what="the level-1 webhook page")
    assert [p.contact_method.id for p in pages_for(pages, key)] == ["alice-hook"]

    router_clock.advance(timedelta(minutes=2, seconds=1))
    await eventually(lambda: paged(pages, key, 2), what="the delayed SMS page")

    router_clock.advance(timedelta(minutes=3))
    await eventually(lambda: paged(pages, key, 3), timeout=60, what="the level-2 page after the delay")
    level_two = [p for p in pages_for(pages, key) if p.escalation_level == 2]
    assert [p.user_id for p in level_two] == ["bob"]
    decisions = await decisions_for(api, key, 2)
    assert decisions[1]["kind"] == "escalation" and decisions[1]["level"] == 2

    incident_id = first["incident_id"]
    ack = await api.post(f"/v1/incidents/{incident_id}/acknowledge", json={"by": "bob", "note": "looking"})
    assert ack.status_code == 200 and ack.json()["changed"] is True
    router_clock.advance(timedelta(hours=2))
    # Nothing more is paged: wait for a later, unrelated page to prove the pipeline moved on meanwhile.
    marker = f"am:test-am:{unique}-marker"
    await send(producer, alert_event(marker, {"service": "checkout"}))
    await eventually(lambda: paged(pages, marker), what="the marker page")
    assert len([p for p in pages_for(pages, key) if p.kind is PageKind.TRIGGER]) == 3
    # alice, paged before bob took it, is told (on both contact methods she was paged on); bob, who acted, is not
    told = {(p.user_id, p.contact_method.id) for p in pages_for(pages, key) if p.kind is PageKind.ACKNOWLEDGED}
    assert told == {("alice", "alice-hook"), ("alice", "alice-sms")}
    incident = (await api.get(f"/v1/incidents/{incident_id}")).json()
    assert incident["incident"]["status"] == "acknowledged"
    assert incident["incident"]["acknowledged_by"] == "bob"


async def test_repeat_trigger_is_duplicate_and_resolve_then_retrigger_opens_new(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, pages: TopicReader, unique: str
) -> None:
    key = f"am:test-am:{unique}"
    labels = {"service": "checkout", "alertname": "Down"}
    await send(producer, alert_event(key, labels))
    await send(producer, alert_event(key, labels))
    first, second = await decisions_for(api, key, 2)
    assert (first["outcome"], second["outcome"]) == ("paged", "duplicate")
    assert second["incident_id"] == first["incident_id"]

    await send(producer, alert_event(key, labels, AlertAction.RESOLVE))
    third = (await decisions_for(api, key, 3))[2]
    assert third["outcome"] == "resolved" and third["incident_id"] == first["incident_id"]

    await send(producer, alert_event(key, labels))
    fourth = (await decisions_for(api, key, 4))[3]
    assert fourth["outcome"] == "paged"
    assert fourth["incident_id"] != first["incident_id"]
    await eventually(lambda: paged(pages, key, 2), what="one webhook page per incident")
    assert len({p.incident_id for p in pages_for(pages, key)}) == 2


async def test_stale_event_pages_nobody_and_opens_no_incident(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    unique: str,
) -> None:
    key = f"am:test-am:{unique}"
    old = router_clock.now() - timedelta(hours=3)
    await send(producer, alert_event(key, {"service": "checkout"}, occurred_at=old, received_at=old))
    decision = (await decisions_for(api, key, 1))[0]
    assert decision["outcome"] == "suppressed"
    assert decision["explanation"]["suppressed_by"] == "stale"
    assert decision["incident_id"] is None
    assert pages_for(pages, key) == []


async def test_maintenance_window_suppresses(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, pages: TopicReader, unique: str
) -> None:
    key = f"am:test-am:{unique}"
    await send(producer, alert_event(key, {"service": "frozen"}))
    decision = (await decisions_for(api, key, 1))[0]
    assert decision["outcome"] == "suppressed"
    assert decision["explanation"]["suppressed_by"] == "maintenance"
    assert "maintenance_windows[0]" in decision["reason"]


async def test_nobody_on_call_skips_to_next_level(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, pages: TopicReader, unique: str
) -> None:
    key = f"am:test-am:{unique}"
    await send(producer, alert_event(key, {"service": "skipper"}))
    decision = (await decisions_for(api, key, 1))[0]
    assert decision["outcome"] == "paged" and decision["level"] == 2
    assert decision["explanation"]["skipped_levels"][0]["level"] == 1
    await eventually(lambda: paged(pages, key, 1), what="bob's page")
    assert pages_for(pages, key)[0].user_id == "bob"


async def test_an_alert_nobody_is_reachable_for_pages_once_someone_comes_on_call(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    unique: str,
) -> None:
    """It paged nobody, and its incident took every later trigger as a duplicate: nobody was paged even once
    someone came on call. Now the level is tried again until someone is reached."""
    key = f"am:test-am:{unique}"
    await send(producer, alert_event(key, {"service": "unstaffed"}))
    first = (await decisions_for(api, key, 1))[0]
    assert first["outcome"] == "nobody_on_call" and "trying level 1 again at" in first["reason"]
    await send(producer, alert_event(key, {"service": "unstaffed"}))
    assert (await decisions_for(api, key, 2))[1]["outcome"] == "duplicate"
    now = router_clock.now()
    window = {
        "user": "carol",
        "start": (now - timedelta(minutes=1)).isoformat(),
        "end": (now + timedelta(hours=2)).isoformat(),
    }
    created = await api.post("/v1/schedules/future-only/overrides", json=window)
    assert created.status_code == 201, created.text
    try:
        router_clock.advance(timedelta(minutes=5, seconds=1))
        await eventually(lambda: paged(pages, key), what="the page once carol is on call")
        assert {p.user_id for p in pages_for(pages, key)} == {"carol"}
        retried = (await decisions_for(api, key, 3))[2]
        assert retried["outcome"] == "paged" and retried["reason"].startswith("nobody was reachable, trying again")
    finally:
        removed = await api.delete(f"/v1/schedules/future-only/overrides/{created.json()['override_id']}")
        assert removed.status_code == 200, removed.text  # left in place, it put carol on call for later tests


async def test_no_route(router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, unique: str) -> None:
    key = f"am:test-am:{unique}"
    await send(producer, alert_event(key, {"service": "unknown-service"}))
    decision = (await decisions_for(api, key, 1))[0]
    assert decision["outcome"] == "no_route"
    assert decision["incident_id"] is None


async def test_out_of_order_trigger_after_resolve_does_not_page(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    unique: str,
) -> None:
    key = f"am:test-am:{unique}"
    now = router_clock.now()
    await send(producer, alert_event(key, {"service": "checkout"}, AlertAction.RESOLVE, occurred_at=now))
    await send(producer, alert_event(key, {"service": "checkout"}, occurred_at=now - timedelta(seconds=30)))
    resolved, late = await decisions_for(api, key, 2)
    assert resolved["outcome"] == "resolved"
    assert late["outcome"] == "suppressed" and late["explanation"]["suppressed_by"] == "out_of_order"
    assert pages_for(pages, key) == []


async def test_an_episode_the_source_resolved_pages_again_when_it_fires_again_but_not_after_a_person_s_resolve(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    unique: str,
) -> None:
    """Alertmanager resolves an alert Prometheus stopped sending for a while, then notifies it firing again with the
    same startsAt: a new incident. After a person's resolve, the source's repeats of the episode page nobody."""
    started = router_clock.now() - timedelta(minutes=10)
    by_source, by_person = f"am:test-am:{unique}-source", f"am:test-am:{unique}-person"
    for key in (by_source, by_person):
        firing = alert_event(key, {"service": "checkout"}, occurred_at=started)
        await send(producer, firing.model_copy(update={"episode_started_at": started}))
    first = (await decisions_for(api, by_source, 1))[0]["incident_id"]
    resolve = alert_event(by_source, {"service": "checkout"}, AlertAction.RESOLVE)
    await send(producer, resolve.model_copy(update={"episode_started_at": started}))
    person = (await decisions_for(api, by_person, 1))[0]["incident_id"]
    resolved = await api.post(f"/v1/incidents/{person}/resolve", json={})
    assert resolved.status_code == 200, resolved.text
    await decisions_for(api, by_source, 2)
    for key in (by_source, by_person):
        again = alert_event(key, {"service": "checkout"}, occurred_at=started)
        await send(producer, again.model_copy(update={"episode_started_at": started}))
    fired_again = (await decisions_for(api, by_source, 3))[2]
    assert fired_again["outcome"] == "paged" and fired_again["incident_id"] != first
    assert "fired_again" in fired_again["explanation"]
    await eventually(lambda: paged(pages, by_source, 2), what="the page of the new incident")

    async def repeat_decided() -> dict[str, Any] | None:
        items = (await api.get("/v1/decisions", params={"dedup_key": by_person})).json()["items"]
        events = [d for d in items if d["kind"] == "event"]  # newest first
        return events[0] if len(events) >= 2 else None

    repeat = await eventually(repeat_decided, what="the decision on the repeat after the person's resolve")
    assert repeat["outcome"] == "suppressed" and repeat["explanation"]["suppressed_by"] == "resolved_episode"


async def test_grouping_window_one_incident_one_page(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, pages: TopicReader, unique: str
) -> None:
    keys = [f"am:test-am:{unique}-{i}" for i in range(5)]
    for key in keys:
        await send(producer, alert_event(key, {"service": "storm", "instance": key}))
    outcomes = [(await decisions_for(api, key, 1))[0] for key in keys]
    assert sorted(d["outcome"] for d in outcomes) == ["grouped"] * 4 + ["paged"]
    assert len({d["incident_id"] for d in outcomes}) == 1
    body = (await api.get(f"/v1/incidents/{outcomes[0]['incident_id']}")).json()
    assert body["incident"]["alert_count"] == 5 and body["incident"]["firing_count"] == 5
    assert sorted(a["dedup_key"] for a in body["alerts"]) == sorted(keys)


async def test_maintenance_window_created_through_the_api(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    unique: str,
) -> None:
    ends = (router_clock.now() + timedelta(minutes=30)).isoformat()
    created = await api.post(
        "/v1/services/skipper/maintenance", json={"ends_at": ends, "reason": "db upgrade", "created_by": "alice"}
    )
    assert created.status_code == 201, created.text
    window_id = created.json()["id"]
    try:
        key = f"am:test-am:{unique}"
        await send(producer, alert_event(key, {"service": "skipper"}))
        decision = (await decisions_for(api, key, 1))[0]
        assert decision["outcome"] == "suppressed"
        assert "db upgrade" in decision["reason"] and window_id in decision["reason"]
    finally:
        ended = await api.delete(f"/v1/services/skipper/maintenance/{window_id}")
        assert ended.status_code == 200
    listed = (await api.get("/v1/services/skipper/maintenance")).json()
    assert all(w["id"] != window_id for w in listed["created"])
    past = await api.post(
        "/v1/services/skipper/maintenance",
        json={"ends_at": "2001-01-01T00:00:00Z", "created_by": "alice"},
    )
    assert past.status_code == 422


async def test_the_maintenance_list_leaves_windows_that_are_over_out_unless_asked(
    router: RouterRuntime, api: httpx.AsyncClient, router_clock: OffsetClock, unique: str
) -> None:
    """A created window stays active in its table past its end: the list returned it with the current and future
    ones, so "what maintenance is there" read as maintenance going on, and a script ending every window listed tried
    to end windows long over. ``include_ended=true`` lists those too, and those ended early (active false)."""
    now, path = router_clock.now(), "/v1/services/skipper/maintenance"
    spans = {"expiring": (0, 1), "ended-early": (0, 30), "current": (0, 30), "future": (60, 120)}
    ids: dict[str, str] = {}

    async def listed(**params: str) -> dict[str, bool]:
        response = await api.get(path, params=params)
        assert response.status_code == 200, response.text
        return {w["id"]: w["active"] for w in response.json()["created"] if w["reason"] == unique}

    try:
        for name, (starts, ends) in spans.items():
            at = {"starts_at": now + timedelta(minutes=starts), "ends_at": now + timedelta(minutes=ends)}
            body = {k: v.isoformat() for k, v in at.items()} | {"reason": unique, "created_by": "alice"}
            created = await api.post(path, json=body)
            assert created.status_code == 201, created.text
            ids[name] = created.json()["id"]
        assert (await api.delete(f"{path}/{ids['ended-early']}")).status_code == 200
        router_clock.advance(timedelta(minutes=2))  # past the end of "expiring"
        assert await listed() == {ids["current"]: True, ids["future"]: True}
        assert await listed(include_ended="false") == {ids["current"]: True, ids["future"]: True}
        assert await listed(include_ended="true") == {
            ids["expiring"]: True,
            ids["ended-early"]: False,
            ids["current"]: True,
            ids["future"]: True,
        }
    finally:
        for window_id in ids.values():  # ending a window again is allowed: each answers 200
            ended = await api.delete(f"{path}/{window_id}")
            assert ended.status_code == 200, ended.text


async def test_the_maintenance_list_comes_a_page_at_a_time(
    router: RouterRuntime, api: httpx.AsyncClient, router_clock: OffsetClock, unique: str
) -> None:
    """With include_ended the list grows with every window ever made: created windows come a page at a time, by
    start, with the id splitting windows that start at the same instant (none repeated or skipped at a page
    boundary); the configured ones are on the first page only."""
    now, path = router_clock.now(), "/v1/services/skipper/maintenance"
    starts = [now + timedelta(minutes=m) for m in (10, 10, 20)]
    ids: list[str] = []
    try:
        for start in starts:
            at = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=1)).isoformat()}
            created = await api.post(path, json=at | {"reason": unique, "created_by": "alice"})
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        seen: list[str] = []
        cursor, pages = None, 0
        while True:
            params = {"include_ended": "true", "limit": "2"} | ({"cursor": cursor} if cursor else {})
            response = await api.get(path, params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page["created"]) <= 2
            if pages:
                assert page["configured"] == []
            seen += [w["id"] for w in page["created"] if w["reason"] == unique]
            cursor, pages = page["next_cursor"], pages + 1
            if cursor is None:
                break
        assert pages >= 2
        assert seen == sorted(ids[:2]) + ids[2:]  # by start, then id
        refused = await api.get(path, params={"cursor": "bm90LWEtY3Vyc29y"})
        assert refused.status_code == 422 and "cursor" in refused.json()["detail"]
    finally:
        for window_id in ids:
            assert (await api.delete(f"{path}/{window_id}")).status_code == 200


async def test_alert_after_the_grouping_window_opens_a_second_incident(
    router: RouterRuntime, api: httpx.AsyncClient, producer: AIOKafkaProducer, router_clock: OffsetClock, unique: str
) -> None:
    """The first incident is still open: the late alert must open its own, not collide with it (regression)."""
    first_key, second_key = f"am:test-am:{unique}-a", f"am:test-am:{unique}-b"
    router_clock.advance(timedelta(seconds=61))  # out of the window of any earlier storm incident
    await send(producer, alert_event(first_key, {"service": "storm", "instance": first_key}))
    first = (await decisions_for(api, first_key, 1))[0]
    router_clock.advance(timedelta(seconds=61))
    await send(producer, alert_event(second_key, {"service": "storm", "instance": second_key}))
    second = (await decisions_for(api, second_key, 1))[0]
    assert (first["outcome"], second["outcome"]) == ("paged", "paged")
    assert first["incident_id"] != second["incident_id"]
