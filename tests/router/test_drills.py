"""Drills on the real path: the synthetic alert goes through Kafka, the router and the outbox like any alert; the
report is read back from the stored pages and delivery results, with the router's clock under the test's control."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from alertrouter_router.runtime import RouterRuntime
from alertrouter_shared.clock import OffsetClock
from alertrouter_shared.events import DeliveryResult, DeliveryStatus, Page, PageKind
from alertrouter_shared.problems import PROBLEM_CONTENT_TYPE
from alertrouter_shared.topics import DELIVERIES
from tests.helpers import TopicReader, eventually
from tests.router.conftest import READ_ONLY_TOKEN, alert_event, pages_for, send


def _triggers(reader: TopicReader, key: str) -> list[Page]:
    return [p for p in pages_for(reader, key) if p.kind is PageKind.TRIGGER]


async def _paged(reader: TopicReader, key: str, count: int) -> list[Page] | None:
    found = _triggers(reader, key)
    return found if len(found) >= count else None


async def _deliver(
    producer: AIOKafkaProducer, page: Page, status: DeliveryStatus, at: datetime, error: str | None = None
) -> None:
    result = DeliveryResult(
        delivery_id=str(uuid.uuid4()),
        page_id=page.page_id,
        incident_id=page.incident_id,
        channel=page.contact_method.type,
        destination_masked="•••",
        status=status,
        provider="test",
        error=error,
        at=at,
        user_id=page.user_id,
        contact_method_id=page.contact_method.id,
        failed_for_good=status is DeliveryStatus.UNDELIVERED,
        failure_reason="sms undelivered" if status is DeliveryStatus.UNDELIVERED else None,
    )
    await producer.send_and_wait(DELIVERIES, result.model_dump_json().encode(), key=page.incident_id.encode())


def _metric(name: str, service: str) -> float:
    return REGISTRY.get_sample_value(name, {"service": service}) or 0.0


async def _report(api: httpx.AsyncClient, drill_id: str, ready: Any) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        response = await api.get(f"/v1/drills/{drill_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body if ready(body) else None

    return await eventually(probe, what=f"the report of drill {drill_id}")


async def test_paging_drill_runs_end_to_end_and_its_report_has_the_right_figures(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
) -> None:
    mtta_before = _metric("alertrouter_router_time_to_acknowledge_seconds_count", "checkout")
    opened_before = _metric("alertrouter_router_incidents_opened_total", "checkout")
    before = router_clock.now()
    started = await api.post("/v1/services/checkout/drills", json={"by": "alice", "note": "monthly rehearsal"})
    assert started.status_code == 202, started.text
    run = started.json()
    start = datetime.fromisoformat(run["started_at"])
    assert before <= start <= router_clock.now()
    key = run["dedup_key"]

    # Level 1: alice's webhook at once, marked drill; her SMS after its 2-minute delay.
    webhook = (await eventually(lambda: _paged(pages, key, 1), what="alice's drill webhook page"))[0]
    seen_first = router_clock.now()
    assert webhook.drill and webhook.user_id == "alice" and webhook.escalation_level == 1
    assert webhook.summary.startswith("DRILL for Checkout, requested by alice: monthly rehearsal")
    await _deliver(producer, webhook, DeliveryStatus.DELIVERED, start + timedelta(seconds=4))
    router_clock.advance(timedelta(minutes=2, seconds=1))
    sms = (await eventually(lambda: _paged(pages, key, 2), what="alice's drill SMS"))[1]
    assert sms.drill and sms.contact_method.id == "alice-sms"
    error = "30003 Unreachable destination handset"
    await _deliver(producer, sms, DeliveryStatus.UNDELIVERED, start + timedelta(seconds=125), error)

    # Nobody acknowledged within level 1's 5 minutes: bob, as configured, also marked drill.
    router_clock.advance(timedelta(minutes=3))
    bob = (await eventually(lambda: _paged(pages, key, 3), what="bob's level-2 drill page"))[2]
    assert bob.drill and bob.user_id == "bob" and bob.escalation_level == 2
    await _deliver(producer, bob, DeliveryStatus.DELIVERED, start + timedelta(seconds=310))

    ack_before = router_clock.now()
    ack = await api.post(f"/v1/incidents/{webhook.incident_id}/acknowledge", json={"by": "bob"})
    assert ack.status_code == 200 and ack.json()["changed"] is True
    ack_after = router_clock.now()

    def complete(body: dict[str, Any]) -> bool:
        contacts = [c for level in body["levels"] for c in level["contacts"]]
        return len(contacts) == 3 and all(c["status"] != "published" for c in contacts)

    report = await _report(api, run["id"], complete)
    assert report["status"] == "acknowledged" and report["acknowledged_by"] == "bob"
    assert report["incident"] == webhook.incident_id
    assert 0 <= report["time_to_first_page_seconds"] <= (seen_first - start).total_seconds()
    assert report["time_to_first_reach_seconds"] == 4.0
    low, high = (ack_before - start).total_seconds(), (ack_after - start).total_seconds()
    assert 300 < low - 0.001 <= report["time_to_acknowledge_seconds"] <= high + 0.001
    level_one, level_two = report["levels"]
    assert (level_one["round"], level_one["level"], level_one["reached"]) == (1, 1, ["alice"])
    by_channel = {c["channel"]: c for c in level_one["contacts"]}
    assert by_channel["webhook"]["reached_at"] == (start + timedelta(seconds=4)).isoformat()
    assert by_channel["sms"]["reached_at"] is None and by_channel["sms"]["status"] == "undelivered"
    assert by_channel["sms"]["failure"] == f"sms undelivered ({error})"
    assert (level_two["level"], level_two["reached"]) == (2, ["bob"])
    assert level_two["contacts"][0]["reached_at"] == (start + timedelta(seconds=310)).isoformat()
    assert report["failures"] == [f"level 1: alice not reached on sms: sms undelivered ({error})"]

    # Never counted as a real incident; listed only when asked for, and per service.
    assert _metric("alertrouter_router_time_to_acknowledge_seconds_count", "checkout") == mtta_before
    assert _metric("alertrouter_router_incidents_opened_total", "checkout") == opened_before
    since = {"service": "checkout", "since": start.isoformat()}
    real = (await api.get("/v1/incidents", params=since)).json()["items"]
    assert webhook.incident_id not in [i["id"] for i in real]
    drilled = (await api.get("/v1/incidents", params={**since, "drill": "true"})).json()["items"]
    assert [i["id"] for i in drilled] == [webhook.incident_id] and drilled[0]["drill"] is True
    runs = (await api.get("/v1/services/checkout/drills")).json()["items"]
    assert runs[0]["id"] == run["id"] and runs[0]["incident"] == webhook.incident_id
    assert runs[0]["status"] == "acknowledged"
    done = await api.post(f"/v1/incidents/{webhook.incident_id}/resolve", json={"by": "bob"})
    assert done.status_code == 200


async def test_a_drill_whose_first_level_reaches_nobody_says_so(
    router: RouterRuntime, api: httpx.AsyncClient, pages: TopicReader
) -> None:
    started = await api.post("/v1/services/skipper/drills", json={"by": "carol"})
    assert started.status_code == 202, started.text
    run = started.json()
    page = (await eventually(lambda: _paged(pages, run["dedup_key"], 1), what="bob's drill page"))[0]
    assert page.drill and page.user_id == "bob"
    report = await _report(api, run["id"], lambda body: body["levels"])
    assert report["status"] == "triggered" and report["time_to_acknowledge_seconds"] is None
    assert report["failures"] == ["level 1 (round 1): nobody on call"]
    assert [(level["level"], level["contacts"][0]["user"]) for level in report["levels"]] == [(2, "bob")]
    await api.post(f"/v1/incidents/{page.incident_id}/resolve", json={"by": "carol"})


async def test_a_drill_within_another_s_grouping_window_pages_on_its_own(
    router: RouterRuntime, api: httpx.AsyncClient, pages: TopicReader
) -> None:
    """Two drills of a grouping service within its window, the first acknowledged before the second began. The
    second joined the first's incident and paged nobody, yet its report said "time to first page 0.0s, acknowledged
    after 0.0s" with the first drill's pages, dated before it started. Each drill has its own incident now."""
    first = (await api.post("/v1/services/storm/drills", json={"by": "alice"})).json()
    page = (await eventually(lambda: _paged(pages, first["dedup_key"], 1), what="the first drill's page"))[0]
    incidents = [page.incident_id]
    try:
        ack = await api.post(f"/v1/incidents/{page.incident_id}/acknowledge", json={"by": "alice"})
        assert ack.status_code == 200 and ack.json()["changed"] is True
        second = (await api.post("/v1/services/storm/drills", json={"by": "bob"})).json()
        report = await _report(api, second["id"], lambda body: body["status"] != "waiting for the router")
        incidents.append(report["incident"])
        assert report["incident"] not in (None, page.incident_id), report
        report = await _report(api, second["id"], lambda body: body["levels"])
        assert report["status"] == "triggered" and report["acknowledged_by"] is None, report
        assert report["time_to_acknowledge_seconds"] is None and report["failures"] == []
        start = datetime.fromisoformat(second["started_at"])
        contacts = [c for level in report["levels"] for c in level["contacts"]]
        assert contacts and all(datetime.fromisoformat(c["send_at"]) >= start for c in contacts), contacts
        listed = {r["id"]: r for r in (await api.get("/v1/services/storm/drills")).json()["items"]}
        assert (listed[second["id"]]["incident"], listed[second["id"]]["status"]) == (report["incident"], "triggered")
        assert (listed[first["id"]]["incident"], listed[first["id"]]["status"]) == (page.incident_id, "acknowledged")
    finally:
        for incident_id in incidents:
            await api.post(f"/v1/incidents/{incident_id}/resolve", json={"by": "alice"})


async def test_a_drill_suppressed_by_maintenance_reports_that_nobody_was_paged(
    router: RouterRuntime, api: httpx.AsyncClient
) -> None:
    run = (await api.post("/v1/services/frozen/drills", json={"by": "alice"})).json()
    report = await _report(api, run["id"], lambda body: body["status"] != "waiting for the router")
    assert report["status"] == "not paged" and report["incident"] is None and report["levels"] == []
    assert report["time_to_first_page_seconds"] is None
    [failure] = report["failures"]
    assert failure.startswith("suppressed: service frozen is in maintenance: services[frozen].maintenance_windows[0]")
    listed = (await api.get("/v1/services/frozen/drills")).json()["items"][0]
    assert (listed["id"], listed["status"], listed["incident"]) == (run["id"], "not paged (yet)", None)


async def test_silent_drill_checks_the_chain_and_pages_nobody(
    router: RouterRuntime, api: httpx.AsyncClient, pages: TopicReader
) -> None:
    response = await api.post("/v1/services/checkout/drills", json={"silent": True, "by": "alice"})
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["silent"] is True and report["ok"] is True and report["failures"] == []
    assert report["route"]["service"] == "checkout" and report["policy"] == "payments-default"
    first = report["levels"][0]
    assert (first["round"], first["level"], first["reaches_anyone"]) == (1, 1, True)
    assert [t["user"] for t in first["targets"]] == ["alice"]
    methods = [(m["id"], m["type"]) for m in first["targets"][0]["contact_methods"]]
    assert methods == [("alice-hook", "webhook"), ("alice-sms", "sms")]
    assert [(lv["round"], lv["level"]) for lv in report["levels"]] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    stored = (await api.get(f"/v1/drills/{report['id']}")).json()
    assert stored == report
    listed = (await api.get("/v1/services/checkout/drills")).json()["items"][0]
    assert (listed["id"], listed["status"], listed["ok"]) == (report["id"], "silent", True)
    (audited,) = (await api.get("/v1/audit", params={"action": "drill.start", "team": "payments"})).json()["items"][:1]
    assert (audited["target_id"], audited["after"]["requested_by"]) == (report["id"], "alice")
    assert audited["actor"].startswith("client:") and audited["after"]["silent"] is True  # who asked, for whom

    skipper = (await api.post("/v1/services/skipper/drills", json={"silent": True})).json()
    assert skipper["ok"] is False and skipper["status"] == "problems found"
    assert "level 1 (round 1): nobody on call" in skipper["failures"]
    frozen = (await api.post("/v1/services/frozen/drills", json={"silent": True})).json()
    assert frozen["failures"][0].startswith("a real alert would be suppressed: the service is in maintenance")
    silent_runs = {report["id"], skipper["id"], frozen["id"]}
    paged = [Page.model_validate_json(v) for v in pages.values]
    assert not [p for p in paged if p.labels.get("drill") in silent_runs]  # nothing was raised nor paged


async def test_drill_requests_that_cannot_run_are_refused(router: RouterRuntime, api: httpx.AsyncClient) -> None:
    missing = await api.post("/v1/services/nope/drills", json={})
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert (await api.get("/v1/drills/nope")).status_code == 404
    typo = await api.get("/v1/services/chekout/drills")  # read as "no drills" (200, empty) before
    assert typo.status_code == 404 and typo.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert "chekout" in typo.json()["detail"]
    configured = await api.get("/v1/services/ledger/drills")  # a configured service: its list, whatever it holds
    assert configured.status_code == 200 and isinstance(configured.json()["items"], list)  # (test_access drills it)
    read_only = {"Authorization": f"Bearer {READ_ONLY_TOKEN}"}
    refused = await api.post("/v1/services/checkout/drills", json={}, headers=read_only)
    assert refused.status_code == 403
    bad = await api.post("/v1/services/checkout/drills", json={"silent": "sometimes"})
    assert bad.status_code == 422
    for minutes in (0, 481, "forever"):  # a drill runs 1 minute to 8 hours
        too_long = await api.post("/v1/services/checkout/drills", json={"minutes": minutes})
        assert too_long.status_code == 422, (minutes, too_long.text)


async def test_a_drill_asked_for_on_behalf_of_someone_outside_the_service_s_team_is_refused(
    router: RouterRuntime, api: httpx.AsyncClient
) -> None:
    """A machine client with act_as names who asks for a drill in ``by``; that person acts with their own rights, as
    for incident actions. A drill for mallory (nobody in the configuration) answered 202 and was recorded as hers."""
    for by, why in [
        ("mallory", "user mallory may not run drills for services: they are not a user of the ownership configuration"),
        (
            "dave",
            "user dave (teams: platform) may not run drills for services of team payments (service checkout): "
            "a person acts only on what their own teams own",
        ),
    ]:
        for silent in (False, True):
            refused = await api.post("/v1/services/checkout/drills", json={"by": by, "silent": silent})
            assert refused.status_code == 403, refused.text  # 202 before, requested_by mallory
            assert refused.json()["detail"] == why
    runs = (await api.get("/v1/services/checkout/drills", params={"limit": 500})).json()["items"]
    assert not [r for r in runs if r["requested_by"] in ("mallory", "dave")]  # nothing started, nothing stored


async def test_a_paging_drill_nobody_answers_ends_at_its_time_limit(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    unique: str,
) -> None:
    """Audit: a drill nobody acknowledged escalated through its policy for ever. It ends at its time limit now:
    the router resolves its incident ("drill ended: time limit"), tells those paged, pages nobody again; a real
    incident of the same service, open all along, escalates on untouched."""
    real_key = f"am:test-am:{unique}"
    await send(producer, alert_event(real_key, {"service": "checkout"}))
    real = (await eventually(lambda: _paged(pages, real_key, 1), what="the real alert's page"))[0]
    resolved_before = _metric("alertrouter_router_incidents_resolved_total", "checkout")

    default = await api.post("/v1/services/checkout/drills", json={"by": "carol"})
    assert default.status_code == 202, default.text
    body = default.json()
    assert datetime.fromisoformat(body["ends_at"]) - datetime.fromisoformat(body["started_at"]) == timedelta(minutes=30)
    first = (await eventually(lambda: _paged(pages, body["dedup_key"], 1), what="the default drill's page"))[0]
    await api.post(f"/v1/incidents/{first.incident_id}/resolve", json={"by": "carol"})

    started = await api.post("/v1/services/checkout/drills", json={"by": "carol", "minutes": 1})
    assert started.status_code == 202, started.text
    run = started.json()
    ends_at = datetime.fromisoformat(run["ends_at"])
    assert ends_at - datetime.fromisoformat(run["started_at"]) == timedelta(minutes=1)
    key = run["dedup_key"]
    webhook = (await eventually(lambda: _paged(pages, key, 1), what="the drill's level-1 page"))[0]
    incident = (await api.get(f"/v1/incidents/{webhook.incident_id}")).json()["incident"]
    assert incident["drill_ends_at"] == ends_at.isoformat()

    router_clock.advance(timedelta(minutes=1, seconds=1))  # past the limit, before alice's SMS (2-minute delay)
    report = await _report(api, run["id"], lambda r: r["status"] == "resolved")
    assert report["ended_by"] == "time limit" and report["ends_at"] == ends_at.isoformat()
    assert report["failures"] == [f"not acknowledged before the drill's time limit ({ends_at.isoformat()})"]
    ended = [
        d
        for d in (await api.get("/v1/decisions", params={"dedup_key": key})).json()["items"]
        if d["outcome"] == "resolved"
    ]
    assert len(ended) == 1 and ended[0]["reason"].startswith(f"drill ended: time limit ({ends_at.isoformat()}) reached")
    explained = (await api.get(f"/v1/decisions/{ended[0]['id']}/explain")).text
    assert "time limit of drill incident" in explained

    async def told() -> list[Page] | None:
        found = [p for p in pages_for(pages, key) if p.kind is PageKind.RESOLVED]
        return found or None

    notices = await eventually(told, what="alice told the drill ended")
    assert {(n.user_id, n.status_note, n.drill) for n in notices} == {
        ("alice", "ended by the drill's time limit", True)
    }

    # Level 2 of the drill was due 5 minutes in: it never comes; the real incident's level 2 does.
    router_clock.advance(timedelta(minutes=5))
    await eventually(lambda: _paged(pages, real_key, 2), what="the real incident's level-2 page")
    assert [(p.escalation_level, p.contact_method.id) for p in _triggers(pages, key)] == [(1, "alice-hook")]
    still = (await api.get(f"/v1/incidents/{real.incident_id}")).json()["incident"]
    assert (still["status"], still["resolved_by"], still["drill_ends_at"]) == ("triggered", None, None)
    assert _metric("alertrouter_router_incidents_resolved_total", "checkout") == resolved_before  # drills never count
    assert (await api.post(f"/v1/incidents/{real.incident_id}/resolve", json={"by": "bob"})).status_code == 200
