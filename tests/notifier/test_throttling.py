"""Flood protection: a burst to one number yields the configured number of SMS plus one digest; nothing dropped."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.clock import OffsetClock
from alertrouter_shared.events import ContactMethodType, DeliveryResult
from tests.helpers import TopicReader, eventually
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import api_client, deliveries_for, produce_pages
from tests.providers.servers import TwilioServer


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
    async with Notifier(settings, clock=clock) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, pages)

        async def all_settled() -> list[dict[str, object]] | None:
            items = await deliveries_for(client, incident=pages[0].incident_id)
            return items if len(items) == 50 and all(i["status"] in ("sent", "throttled") for i in items) else None

        items = await eventually(all_settled, what="50 pages sent or throttled")
        assert sorted(str(i["status"]) for i in items).count("sent") == 3
        assert len(twilio.messages) == 3

        clock.advance(timedelta(seconds=61))  # the window closes: the digest goes out
        await asyncio.to_thread(twilio.wait_for, 4)
        digest_body = twilio.messages[3]["Body"]
        assert digest_body.startswith("[DIGEST] 47 more alerts for ")
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
