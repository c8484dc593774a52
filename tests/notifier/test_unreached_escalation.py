"""A level that reached nobody escalates at once, end to end: the real router pages clara by SMS and voice; Twilio
reports the SMS undelivered and the call unanswered; the notifier says so on the deliveries topic; the router pages
level 2 (dan) within seconds instead of after the level's 30-minute delay."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.events import ContactMethodType, Page, PageKind
from alertrouter_shared.topics import DELIVERIES
from tests.helpers import eventually
from tests.notifier.conftest import SettingsFactory
from tests.notifier.live import ROUTER_TOKEN, LiveRouter, Person, public_settings, served
from tests.notifier.support import produce_pages
from tests.notifier.test_voice import _placed_call, number
from tests.providers.twilio import TwilioServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


async def test_undelivered_sms_and_unanswered_call_page_level_two_within_seconds(
    make_settings: SettingsFactory, twilio: TwilioServer, router_live: LiveRouter, unique: str
) -> None:
    clara = Person(f"clara-{unique}", {"sms": number(unique), "voice": number(unique, 1)})
    dan = Person(f"dan-{unique}", {"sms": number(unique, 2)})
    service = await router_live.add_service(unique, [[clara], [dan]], delay_minutes=30)
    pages = await router_live.trigger(service, "checkout is down", count=2)
    incident_id = pages[0].incident_id
    settings = make_settings(
        twilio_base_url=twilio.url,
        router_url=router_live.url,
        router_api_token=ROUTER_TOKEN,
        deliveries_topic=DELIVERIES,  # the topic the router reads delivery results from
        **public_settings(),
    )
    started = time.monotonic()
    async with Notifier(settings) as notifier, served(notifier):
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, pages)
        call = await _placed_call(twilio, clara.addresses["voice"])
        await asyncio.to_thread(
            twilio.wait_for,
            1,
            20.0,
            lambda r: r.path.endswith("/Messages.json") and r.form()["To"] == clara.addresses["sms"],
        )
        message = next(m for m in twilio.messages if m["To"] == clara.addresses["sms"])
        fields = json.loads((FIXTURES / "twilio" / "status-callback-undelivered.form.json").read_text())
        fields.pop("_comment")
        fields.update(
            AccountSid=twilio.account_sid, MessageSid=message["sid"], SmsSid=message["sid"], To=clara.addresses["sms"]
        )
        undelivered = await asyncio.to_thread(twilio.signed_post, f"{settings.public_url}/v1/twilio/status", fields)
        assert undelivered.status in (200, 204), undelivered
        unanswered = await asyncio.to_thread(twilio.end_call, call["sid"], "no-answer")
        assert unanswered.status in (200, 204), unanswered

        async def dan_paged() -> Page | None:
            found = [Page.model_validate_json(v) for v in router_live.pages.values]
            return next((p for p in found if p.incident_id == incident_id and p.user_id == dan.id), None)

        page = await eventually(dan_paged, timeout=30, what="dan's level-2 page")

        # clara, paged before, hears of it on the channel she was paged on (SMS; never a call for it)
        async def clara_told() -> list[Page] | None:
            found = [Page.model_validate_json(v) for v in router_live.pages.values]
            told = [p for p in found if p.incident_id == incident_id and p.kind is PageKind.ESCALATED]
            return told or None

        (update,) = await eventually(clara_told, timeout=30, what="clara's escalation update")
        assert (update.user_id, update.contact_method.type) == (clara.id, ContactMethodType.SMS)
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [update])
        await asyncio.to_thread(
            twilio.wait_for,
            2,
            20.0,
            lambda r: r.path.endswith("/Messages.json") and r.form()["To"] == clara.addresses["sms"],
        )
        body = [m["Body"] for m in twilio.messages if m["To"] == clara.addresses["sms"]][-1]
        assert body.startswith(f"[ESCALATED] Service {unique}: Escalated to level 2: {dan.id} paged. checkout is down")
    assert time.monotonic() - started < 60  # the level's delay is 30 minutes
    assert page.escalation_level == 2 and page.contact_method.type is ContactMethodType.SMS
    body = await router_live.incident(incident_id)
    escalation = next(e for e in body["timeline"] if e["kind"] == "decision" and e["reason"].startswith("level 1:"))
    assert f"{clara.id} not reached: sms undelivered (30003)" in escalation["reason"]
    assert f"{clara.id} not reached: voice no-answer" in escalation["reason"]
    assert f"paged level 2 (round 1) of policy policy-{unique}: {dan.id}" in escalation["reason"]


async def test_pressing_2_escalates_now_as_the_called_person(
    make_settings: SettingsFactory, twilio: TwilioServer, router_live: LiveRouter, unique: str
) -> None:
    clara = Person(f"clara-{unique}", {"voice": number(unique), "sms": number(unique, 1)})
    dan = Person(f"dan-{unique}", {"sms": number(unique, 2)})
    service = await router_live.add_service(unique, [[clara], [dan]], delay_minutes=30)
    pages = await router_live.trigger(service, "checkout is down", count=2)
    page = next(p for p in pages if p.contact_method.type is ContactMethodType.VOICE)
    settings = make_settings(
        twilio_base_url=twilio.url, router_url=router_live.url, router_api_token=ROUTER_TOKEN, **public_settings()
    )
    async with Notifier(settings) as notifier, served(notifier):
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, pages)
        call = await _placed_call(twilio, clara.addresses["voice"])
        reply = await asyncio.to_thread(twilio.press, call["sid"], "2")
    assert reply.status == 200, reply

    async def dan_paged() -> Page | None:
        found = [Page.model_validate_json(v) for v in router_live.pages.values]
        return next((p for p in found if p.incident_id == page.incident_id and p.user_id == dan.id), None)

    await eventually(dan_paged, timeout=30, what="dan's page after clara pressed 2")
    body = await router_live.incident(page.incident_id)
    assert any(e["kind"] == "decision" and e["reason"].startswith(f"escalated by {clara.id}") for e in body["timeline"])
    # clara escalated: she is not told of it on her SMS (the update would have been written with the escalation)
    found = [Page.model_validate_json(v) for v in router_live.pages.values]
    assert not [p for p in found if p.incident_id == page.incident_id and p.kind is PageKind.ESCALATED]
