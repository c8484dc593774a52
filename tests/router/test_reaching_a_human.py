"""Reaching a human, router side, on the real path: a level whose pages all failed escalates at once; a person
escalates now or snoozes through the API; those already paged hear of the acknowledgement."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from alertrouter_router.db.pool import connect_arguments
from alertrouter_router.runtime import RouterRuntime
from alertrouter_shared.clock import OffsetClock
from alertrouter_shared.events import ContactMethodType, DeliveryResult, DeliveryStatus, PageKind
from alertrouter_shared.topics import DELIVERIES
from tests.helpers import TopicReader, eventually
from tests.router.conftest import alert_event, decisions_for, paged, pages_for, send


async def test_undelivered_level_escalates_at_once(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    unique: str,
) -> None:
    key = f"am:test-am:{unique}"
    await send(producer, alert_event(key, {"service": "checkout"}))
    await eventually(lambda: paged(pages, key, level=1), what="alice's webhook page")
    router_clock.advance(timedelta(minutes=2, seconds=1))  # the 2-minute SMS is published too
    await eventually(lambda: paged(pages, key, 2, level=1), what="alice's SMS page")
    await _fail_level_one(producer, pages, key)
    # Level 2 is due 5 minutes after level 1; it comes now, without the clock moving.
    await eventually(lambda: paged(pages, key, level=2), what="bob's page, at once")

    # alice, paged before, is told on both channels she was paged on (the undelivered SMS too: it may work now)
    async def alice_told() -> set[str] | None:
        told = {p.contact_method.id for p in pages_for(pages, key) if p.kind is PageKind.ESCALATED}
        return told if len(told) == 2 else None

    assert await eventually(alice_told, what="alice's escalation updates") == {"alice-hook", "alice-sms"}
    notes = {p.status_note for p in pages_for(pages, key) if p.kind is PageKind.ESCALATED}
    assert notes == {"escalated to level 2: bob paged"}
    decision = (await decisions_for(api, key, 2))[1]
    assert decision["kind"] == "escalation" and decision["level"] == 2
    assert decision["reason"].startswith("level 1: alice not reached: webhook failed (HTTP 410); alice not reached: ")
    assert "sms undelivered (30003 Unreachable destination handset)" in decision["reason"]


async def _fail_level_one(producer: AIOKafkaProducer, pages: TopicReader, key: str) -> None:
    """The notifier's results for alice's two level-one pages: the webhook failed, the SMS undelivered."""
    level_one = [p for p in pages_for(pages, key) if p.escalation_level == 1]
    for page, status in zip(level_one, (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED), strict=True):
        result = DeliveryResult(
            delivery_id=str(uuid.uuid4()),
            page_id=page.page_id,
            incident_id=page.incident_id,
            channel=page.contact_method.type,
            destination_masked="+1500•••0006" if page.contact_method.type is ContactMethodType.SMS else "hook",
            status=status,
            provider="test",
            error="30003 Unreachable destination handset" if status is DeliveryStatus.UNDELIVERED else "HTTP 410",
            at=datetime.now(UTC),
        )
        await producer.send_and_wait(DELIVERIES, result.model_dump_json().encode(), key=page.incident_id.encode())


async def _unmark(database_url: str, incident_id: str, marks: int, created_at: datetime) -> None:
    """Once the fast lane has marked ``marks`` of the incident's pages: put them back in the window before their
    mark (unmarked; created at ``created_at``, so the poller leaves them to the fast lane for its grace)."""
    conn = await asyncpg.connect(**connect_arguments(database_url))
    try:

        async def marked() -> bool:
            found: int = await conn.fetchval(
                "SELECT count(*) FROM router_outbox WHERE incident_id = $1 AND published_at IS NOT NULL", incident_id
            )
            return found >= marks

        await eventually(marked, what=f"the fast lane's marks of {marks} page(s)")
        await conn.execute(
            "UPDATE router_outbox SET published_at = NULL, created_at = $2 WHERE incident_id = $1 "
            "AND published_at IS NOT NULL",
            incident_id,
            created_at,
        )
    finally:
        await conn.close()


async def test_a_failure_back_before_its_page_was_marked_published_escalates_at_once(
    router: RouterRuntime,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    router_database_url: str,
    unique: str,
) -> None:
    """The fast lane marks a page published once Kafka acknowledged it; a webhook's 4xx can come back before that,
    and the level then waited for its escalation timeout. The rows are put back in that window: unmarked, and
    created (by a pod whose clock is ahead) too recently for the poller to take them."""
    key = f"am:test-am:{unique}"
    await send(producer, alert_event(key, {"service": "checkout"}))
    await eventually(lambda: paged(pages, key, level=1), what="alice's webhook page")
    router_clock.advance(timedelta(minutes=2, seconds=1))
    await eventually(lambda: paged(pages, key, 2, level=1), what="alice's SMS page")
    incident_id = pages_for(pages, key)[0].incident_id
    await _unmark(router_database_url, incident_id, 2, router_clock.now() + timedelta(hours=1))
    await _fail_level_one(producer, pages, key)
    await eventually(lambda: paged(pages, key, level=2), what="bob's page, at once")


async def test_escalate_now_and_snooze_through_the_api(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    unique: str,
) -> None:
    key = f"am:test-am:{unique}"
    await send(producer, alert_event(key, {"service": "checkout"}))
    incident_id = (await decisions_for(api, key, 1))[0]["incident_id"]
    asked = {"by": "alice", "note": "need help", "from_level": 1}
    escalated = await api.post(f"/v1/incidents/{incident_id}/escalate", json=asked)
    assert escalated.status_code == 200, escalated.text
    assert "escalated by alice: need help: paged level 2" in escalated.json()["reason"]
    await eventually(lambda: paged(pages, key, level=2), what="bob's page after escalate now")
    again = await api.post(f"/v1/incidents/{incident_id}/escalate", json=asked)  # retried: its answer was lost
    assert again.status_code == 200 and again.json() == {
        "incident": incident_id,
        "status": "triggered",
        "changed": False,
    }
    assert (await api.get(f"/v1/incidents/{incident_id}")).json()["incident"]["last_level"] == 1  # still level 2

    snoozed = await api.post(f"/v1/incidents/{incident_id}/snooze", json={"by": "bob", "minutes": 10})
    assert snoozed.status_code == 200 and snoozed.json()["status"] == "acknowledged"

    # alice heard that bob took it; bob, who acted, did not
    async def alice_told() -> bool:
        return any(p.kind is PageKind.ACKNOWLEDGED and p.user_id == "alice" for p in pages_for(pages, key))

    await eventually(alice_told, what="alice's acknowledgement update")
    assert not any(p.kind is PageKind.ACKNOWLEDGED and p.user_id == "bob" for p in pages_for(pages, key))
    router_clock.advance(timedelta(minutes=10, seconds=1))
    await eventually(lambda: paged(pages, key, 2, level=1), what="level 1 paged again after the snooze")
    incident = (await api.get(f"/v1/incidents/{incident_id}")).json()["incident"]
    assert incident["status"] == "triggered"
    bad = await api.post(f"/v1/incidents/{incident_id}/snooze", json={"by": "bob", "minutes": 0})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


async def test_those_paged_hear_of_a_resolve_that_came_before_their_page_was_marked_published(
    router: RouterRuntime,
    api: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    pages: TopicReader,
    router_clock: OffsetClock,
    router_database_url: str,
    unique: str,
) -> None:
    """The fast lane marks a page published once Kafka acknowledged it, up to seconds after sending it; a resolve
    in between read no published page, so the person woken by it was never told the incident was resolved. The
    row is put back in that window (unmarked, just created, so the poller leaves it to the fast lane)."""
    key = f"am:test-am:{unique}"
    await send(producer, alert_event(key, {"service": "checkout"}))
    incident_id = (await decisions_for(api, key, 1))[0]["incident_id"]
    await eventually(lambda: paged(pages, key), what="alice's page")
    await _unmark(router_database_url, incident_id, 1, router_clock.now())
    resolved = await api.post(f"/v1/incidents/{incident_id}/resolve", json={"by": "bob"})
    assert resolved.status_code == 200, resolved.text

    async def alice_told() -> bool:
        return any(p.kind is PageKind.RESOLVED and p.user_id == "alice" for p in pages_for(pages, key))

    await eventually(alice_told, what="alice's resolve update")
