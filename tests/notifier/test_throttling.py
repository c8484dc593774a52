"""Flood protection: a burst to one number yields the configured number of SMS plus one digest; nothing dropped."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.clock import OffsetClock
from alertrouter_shared.events import ContactMethodType, DeliveryResult, PageKind
from tests.helpers import TopicReader, eventually
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import (
    STATUS_URL,
    TWILIO_TOKEN,
    api_client,
    deliveries_counted,
    deliveries_for,
    produce_pages,
    status_callback,
    undelivered_callback,
)
from tests.providers.servers import TwilioServer, twilio_signature


async def test_fifty_pages_in_a_minute_give_three_sms_and_one_digest(
    make_settings: SettingsFactory,
    make_page: PageFactory,
    twilio: TwilioServer,
    unique: str,
    deliveries_reader: TopicReader,
) -> None:
    settings = make_settings(twilio_base_url=twilio.url, throttle_sms_max=3, throttle_window_seconds=60)
    phone = "+447700900" + str(int(unique[:6], 16) % 1000).zfill(3)
    pages = [
        make_page(ContactMethodType.SMS, phone, service_id=service, service_name=service)
        for service in ["checkout", "payments"] * 25
    ]
    clock = OffsetClock()
    started = clock.now()
    throttled_before = deliveries_counted("sms", "throttled")
    async with Notifier(settings, clock=clock) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, pages)

        async def all_settled() -> list[dict[str, object]] | None:
            items = await deliveries_for(client, incident=pages[0].incident_id)
            return items if len(items) == 50 and all(i["status"] in ("sent", "throttled") for i in items) else None

        items = await eventually(all_settled, what="50 pages sent or throttled")
        assert sorted(str(i["status"]) for i in items).count("sent") == 3
        assert len(twilio.messages) == 3

        async def throttled_counted() -> float | None:
            counted = deliveries_counted("sms", "throttled") - throttled_before
            return counted if counted >= 47 else None

        # ended at admission, not by a send: counted all the same (the dashboards' deliveries by outcome)
        assert await eventually(throttled_counted, what="47 throttled deliveries counted") == 47

        clock.advance(timedelta(minutes=10))  # the window closed long ago: the digest goes out
        await asyncio.to_thread(twilio.wait_for, 4)
        digest_body = twilio.messages[3]["Body"]
        assert digest_body.startswith("[DIGEST] 47 more alerts for ")
        # since the window began (within seconds of the start), not since the digest went out (10 minutes on)
        assert any(f"since {at:%H:%M} UTC" in digest_body for at in (started, started + timedelta(seconds=5)))
        assert "checkout" in digest_body and "payments" in digest_body

        async def digest_sent() -> list[dict[str, object]] | None:
            items = await deliveries_for(client, incident=pages[0].incident_id)
            digests = [i for i in items if i["kind"] == "digest" and i["status"] == "sent"]
            return digests or None

        (digest,) = await eventually(digest_sent, what="the digest delivery recorded as sent")
        items = await deliveries_for(client, incident=pages[0].incident_id, status="throttled")

    assert digest["digest_count"] == 47
    assert len(items) == 47
    assert {i["digest_delivery_id"] for i in items} == {digest["delivery_id"]}
    assert len(twilio.messages) == 4

    async def throttled_published() -> list[DeliveryResult] | None:
        results = [DeliveryResult.model_validate_json(v) for v in deliveries_reader.values]
        throttled = [r for r in results if r.incident_id == pages[0].incident_id and r.status == "throttled"]
        return throttled if len(throttled) == 47 else None

    await eventually(throttled_published, what="47 throttled results on the deliveries topic")


async def test_other_numbers_are_not_held_back_by_a_flood(
    make_settings: SettingsFactory, make_page: PageFactory, twilio: TwilioServer, unique: str
) -> None:
    settings = make_settings(twilio_base_url=twilio.url, throttle_sms_max=1)
    base = int(unique[:6], 16) % 1000
    flood = [make_page(ContactMethodType.SMS, f"+447700901{base:03d}") for _ in range(5)]
    other = make_page(ContactMethodType.SMS, f"+447700902{base:03d}")
    clock = OffsetClock()
    async with Notifier(settings, clock=clock) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [*flood, other])

        async def settled() -> list[dict[str, object]] | None:
            items = await deliveries_for(client, incident=other.incident_id)
            return items if len(items) == 6 and all(i["status"] in ("sent", "throttled") for i in items) else None

        items = await eventually(settled, what="all six pages settled")
        by_page = {i["page_id"]: i["status"] for i in items}
        assert by_page[other.page_id] == "sent"
        assert [by_page[p.page_id] for p in flood] == ["sent", "throttled", "throttled", "throttled", "throttled"]

        clock.advance(timedelta(seconds=61))
        (digest,) = await asyncio.to_thread(twilio.wait_for, 1, 10, lambda r: "DIGEST" in r.form().get("Body", ""))
    assert digest.form()["To"] == flood[0].contact_method.address
    assert digest.form()["Body"].startswith("[DIGEST] 4 more alerts for checkout")


async def test_drill_pages_neither_use_up_nor_are_held_by_flood_protection_and_no_digest_says_drill(
    make_settings: SettingsFactory, make_page: PageFactory, twilio: TwilioServer, unique: str
) -> None:
    """Drill and real pages shared one window per destination: three drill pages used up the budget, so the real
    pages behind them were held back, and the digest (a copy of the last page held) read "[DRILL]" although it
    stood for real pages. A rehearsal never delays or relabels a real page."""
    settings = make_settings(twilio_base_url=twilio.url, throttle_sms_max=2)
    phone = f"+447700903{int(unique[:6], 16) % 1000:03d}"
    drills = [
        make_page(ContactMethodType.SMS, phone, incident_id=f"drill-{unique}", drill=True, summary=f"rehearsal {n}")
        for n in range(4)
    ]
    real = [make_page(ContactMethodType.SMS, phone, summary=f"real {n}") for n in range(3)]
    ordered = [drills[0], drills[1], drills[2], real[0], real[1], real[2], drills[3]]  # one partition: this order
    clock = OffsetClock()
    async with Notifier(settings, clock=clock) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, ordered)

        async def settled() -> dict[str, str] | None:
            items = [
                *await deliveries_for(client, incident=real[0].incident_id),
                *await deliveries_for(client, incident=drills[0].incident_id),
            ]
            done = len(items) == len(ordered) and all(i["status"] in ("sent", "throttled") for i in items)
            return {str(i["page_id"]): str(i["status"]) for i in items} if done else None

        statuses = await eventually(settled, what="every page sent or throttled")
        assert [statuses[p.page_id] for p in drills] == ["sent"] * 4
        assert [statuses[p.page_id] for p in real] == ["sent", "sent", "throttled"]

        clock.advance(timedelta(seconds=61))  # the window closes: the digest of the one real page held goes out
        (digest,) = await asyncio.to_thread(twilio.wait_for, 1, 10, lambda r: "DIGEST" in r.form().get("Body", ""))
        assert digest.form()["Body"].startswith("[DIGEST] 1 more alert for checkout"), digest.form()["Body"]

        async def digest_sent() -> list[dict[str, object]] | None:
            items = await deliveries_for(client, incident=real[0].incident_id)
            return [i for i in items if i["kind"] == "digest" and i["status"] == "sent"] or None

        (recorded,) = await eventually(digest_sent, what="the digest delivery recorded as sent")
        held = await deliveries_for(client, incident=drills[0].incident_id, status="throttled")
    assert recorded["digest_count"] == 1
    assert held == []
    bodies = [m["Body"] for m in twilio.messages if m["To"] == phone]
    assert sum("DRILL" in b for b in bodies) == 4 and len(bodies) == 7  # four drills, two real pages, one digest


async def test_status_notices_have_a_budget_of_their_own_so_a_trigger_after_them_goes_out(
    make_settings: SettingsFactory, make_page: PageFactory, twilio: TwilioServer, unique: str
) -> None:
    """Triggers and notices shared one budget per destination: the resolved notices of a storm that just ended used
    it up, and the next incident's trigger was held back, to go out a minute later as a digest with no acknowledge
    link. Notices beyond their own budget are still held, and their digest says they were updates."""
    settings = make_settings(twilio_base_url=twilio.url, throttle_sms_max=2)
    phone = f"+447700904{int(unique[:6], 16) % 1000:03d}"
    notices = [
        make_page(ContactMethodType.SMS, phone, kind=PageKind.RESOLVED, summary=f"resolved {n}") for n in range(4)
    ]
    triggers = [make_page(ContactMethodType.SMS, phone, summary=f"new trouble {n}") for n in range(3)]
    ordered = [*notices, *triggers]  # one partition: this order
    clock = OffsetClock()
    async with Notifier(settings, clock=clock) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, ordered)

        async def settled() -> dict[str, str] | None:
            items = await deliveries_for(client, incident=triggers[0].incident_id)
            done = len(items) == len(ordered) and all(i["status"] in ("sent", "throttled") for i in items)
            return {str(i["page_id"]): str(i["status"]) for i in items} if done else None

        statuses = await eventually(settled, what="every page sent or throttled")
        assert [statuses[p.page_id] for p in triggers] == ["sent", "sent", "throttled"]
        assert [statuses[p.page_id] for p in notices] == ["sent", "sent", "throttled", "throttled"]

        clock.advance(timedelta(seconds=61))  # both windows close: one digest each
        digests = await asyncio.to_thread(twilio.wait_for, 2, 10, lambda r: "DIGEST" in r.form().get("Body", ""))
        bodies = sorted(d.form()["Body"] for d in digests)
        assert bodies[0].startswith("[DIGEST] 1 more alert for checkout"), bodies
        assert bodies[1].startswith("[DIGEST] 2 more incident updates for checkout"), bodies

        async def digests_sent() -> list[dict[str, object]] | None:
            items = await deliveries_for(client, incident=triggers[0].incident_id)
            sent = [i for i in items if i["kind"] == "digest" and i["status"] == "sent"]
            return sent if len(sent) == 2 else None

        recorded = await eventually(digests_sent, what="both digests recorded as sent")
        held = await deliveries_for(client, incident=triggers[0].incident_id, status="throttled")
    digest_of = {str(d["delivery_id"]): d["digest_count"] for d in recorded}
    by_page = {str(i["page_id"]): str(i["digest_delivery_id"]) for i in held}
    assert digest_of[by_page[triggers[2].page_id]] == 1
    assert digest_of[by_page[notices[2].page_id]] == digest_of[by_page[notices[3].page_id]] == 2


async def test_a_page_held_for_a_digest_that_is_not_delivered_is_reported_not_reached(
    make_settings: SettingsFactory,
    make_page: PageFactory,
    twilio: TwilioServer,
    unique: str,
    deliveries_reader: TopicReader,
) -> None:
    """A held page reaches its person only through its digest. When the digest was undelivered, the held page's
    last word was still "throttled" (the digest's own result names the digest's page, which the router ignores), so
    its level waited out the full delay instead of escalating at once as for any page that reached nobody."""
    settings = make_settings(twilio_base_url=twilio.url, throttle_sms_max=1)
    phone = f"+447700905{int(unique[:6], 16) % 1000:03d}"
    first = make_page(ContactMethodType.SMS, phone, incident_id=f"inc-{unique}-a")
    held = make_page(ContactMethodType.SMS, phone, incident_id=f"inc-{unique}-b", summary="the held one")
    clock = OffsetClock()
    async with Notifier(settings, clock=clock) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [first, held])

        async def held_back() -> list[dict[str, object]] | None:
            return await deliveries_for(client, page=held.page_id, status="throttled") or None

        await eventually(held_back, what="the second page held by flood protection")
        clock.advance(timedelta(seconds=61))  # the window closes: the digest goes out
        (digest_request,) = await asyncio.to_thread(
            twilio.wait_for, 1, 10, lambda r: "DIGEST" in r.form().get("Body", "")
        )

        async def digest_sent() -> dict[str, object] | None:
            items = await deliveries_for(client, incident=held.incident_id)
            return next((i for i in items if i["kind"] == "digest" and i["status"] == "sent"), None)

        digest = await eventually(digest_sent, what="the digest recorded as sent")
        fields = undelivered_callback(str(digest["provider_message_id"]))
        signed = await status_callback(client, fields, twilio_signature(TWILIO_TOKEN, STATUS_URL, fields))
        assert signed.status_code == 204

        async def held_not_reached() -> list[DeliveryResult] | None:
            results = [DeliveryResult.model_validate_json(v) for v in deliveries_reader.values]
            return [r for r in results if r.page_id == held.page_id and r.status == "undelivered"] or None

        (result,) = await eventually(held_not_reached, timeout=30, what="the held page reported undelivered")
        # and its row says so (it stayed "throttled", with no failure_reason, before)
        (row,) = await deliveries_for(client, page=held.page_id)
        assert (row["status"], row["failure_reason"]) == ("undelivered", "sms undelivered (30003)")
    assert digest_request.form()["To"] == phone
    assert result.failed_for_good and result.failure_reason == "sms undelivered (30003)"
    assert (result.incident_id, result.user_id) == (held.incident_id, held.user_id)
    results = [DeliveryResult.model_validate_json(v) for v in deliveries_reader.values]
    assert not [r for r in results if r.page_id == first.page_id and r.status == "undelivered"]  # it was sent
