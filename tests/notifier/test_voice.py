"""Voice calls: the Calls API request and its TwiML, call status callbacks (not reached = failed for good), and
key presses acting through the real router."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from functools import partial
from typing import Any

import httpx
import structlog

from alertrouter_notifier.outcomes import GAVE_UP_PREFIX, failure_reason
from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.events import ContactMethodType, DeliveryResult, DeliveryStatus, Page, PageKind
from tests.helpers import TopicReader, eventually
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.live import ROUTER_TOKEN, LiveRouter, Person, public_settings, served
from tests.notifier.support import (
    TWILIO_SID,
    TWILIO_TOKEN,
    api_client,
    delivered_alone,
    deliveries_for,
    final_delivery,
    produce_pages,
)
from tests.providers.base import Reply
from tests.providers.servers import CaptureServer
from tests.providers.twilio import TwilioServer, twilio_signature


def number(unique: str, n: int = 0) -> str:
    return "+1202555" + str((int(unique[:8], 16) + n) % 10_000).zfill(4)


async def _placed_call(twilio: TwilioServer, to: str) -> dict[str, Any]:
    await asyncio.to_thread(twilio.wait_for, 1, 20.0, lambda r: r.path.endswith("/Calls.json") and r.form()["To"] == to)
    return next(c for c in twilio.calls if c["To"] == to)


def _published(reader: TopicReader, page_id: str) -> list[DeliveryResult]:
    results = [DeliveryResult.model_validate_json(v) for v in reader.values]
    return [r for r in results if r.page_id == page_id]


async def test_call_request_reads_the_incident_and_gathers_one_key(
    make_settings: SettingsFactory, make_page: PageFactory, twilio: TwilioServer, unique: str
) -> None:
    settings = make_settings(twilio_base_url=twilio.url, twilio_voice_from="+12015550777", voice_ring_seconds=25)
    hostile = 'disk full</Say><Dial>+19005550100</Dial><Say> & "more" https://evil.example/x'
    page = make_page(ContactMethodType.VOICE, number(unique), summary=hostile)
    delivery = await delivered_alone(settings, page)
    (call,) = twilio.calls
    assert call["To"] == page.contact_method.address and call["From"] == "+12015550777"
    assert call["Timeout"] == "25"
    # both callback URLs name the delivery (Twilio signs them with their query): see the late-answer test below
    callback = f"?delivery={delivery['delivery_id']}"
    assert call["StatusCallback"] == "http://notifier.test/v1/twilio/voice/status" + callback
    assert call["StatusCallbackMethod"] == "POST"
    root = ET.fromstring(call["Twiml"])
    assert [element.tag for element in root] == ["Gather", "Say"]
    gather = root[0]
    assert gather.get("action") == "http://notifier.test/v1/twilio/voice/gather" + callback
    assert gather.get("numDigits") == "1" and gather.get("method") == "POST"
    spoken = " ".join(say.text or "" for say in root.iter("Say"))
    assert "critical alert for checkout" in spoken
    assert "Press 1 to acknowledge. Press 2 to escalate now." in spoken
    assert "disk full</Say><Dial>" in spoken  # read out as text, not obeyed as TwiML
    assert root.find(".//Dial") is None
    assert "https://evil.example" not in spoken
    assert delivery["status"] == "sent"
    assert delivery["channel"] == "voice"
    assert delivery["provider_message_id"] == call["sid"]


async def test_notices_are_read_without_a_menu(
    make_settings: SettingsFactory, make_page: PageFactory, twilio: TwilioServer, unique: str
) -> None:
    settings = make_settings(twilio_base_url=twilio.url)
    page = make_page(ContactMethodType.VOICE, number(unique), kind=PageKind.RESOLVED)
    async with Notifier(settings) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
        await final_delivery(client, page.page_id)
    root = ET.fromstring(twilio.calls[0]["Twiml"])
    assert [element.tag for element in root] == ["Say"]
    assert "was resolved" in (root[0].text or "")


async def test_unanswered_busy_and_failed_calls_are_failed_for_good(
    make_settings: SettingsFactory,
    make_page: PageFactory,
    twilio: TwilioServer,
    unique: str,
    deliveries_reader: TopicReader,
) -> None:
    settings = make_settings(
        twilio_base_url=twilio.url, throttle_voice_max=0, voice_machine_detection=True, **public_settings()
    )
    outcomes = {
        "no-answer": "undelivered",
        "busy": "undelivered",
        "failed": "failed",
        "completed": "delivered",
        "voicemail": "undelivered",
    }
    pages = {status: make_page(ContactMethodType.VOICE, number(unique, n)) for n, status in enumerate(outcomes)}
    async with Notifier(settings) as notifier, served(notifier), api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, list(pages.values()))
        for status, page in pages.items():
            call = await _placed_call(twilio, page.contact_method.address)
            await final_delivery(client, page.page_id)
            forged = await asyncio.to_thread(
                twilio.signed_post,
                call["StatusCallback"],
                {"CallSid": call["sid"], "CallStatus": status},
                signature="x",
            )
            assert forged.status == 403
            assert call["MachineDetection"] == "Enable"
            answered = status in ("completed", "voicemail")
            final_status, answered_by = ("completed", "machine_end_beep") if status == "voicemail" else (status, "")
            ending = partial(twilio.end_call, duration=12 if answered else 0, answered_by=answered_by)
            reply = await asyncio.to_thread(ending, call["sid"], final_status)
            assert reply.status == 204, reply.body
        records = {status: (await deliveries_for(client, page=page.page_id))[0] for status, page in pages.items()}

        async def all_published() -> dict[str, DeliveryResult] | None:
            final = {}
            for status, page in pages.items():
                assert not any(
                    r.failed_for_good for r in _published(deliveries_reader, page.page_id) if r.status == "sent"
                )
                found = [r for r in _published(deliveries_reader, page.page_id) if r.status != "sent"]
                if not found:
                    return None
                final[status] = found[-1]
            return final

        results = await eventually(all_published, what="the call outcomes on the deliveries topic")
    for status, expected in outcomes.items():
        assert records[status]["status"] == expected, status
        assert records[status]["attempts"][-1]["provider_status_code"] == status
        assert records[status]["failure_reason"] == (None if status == "completed" else f"voice {status}")
        result = results[status]
        assert result.status == expected
        assert result.user_id == "alice" and result.contact_method_id == pages[status].contact_method.id
        if status == "completed":
            assert not result.failed_for_good and result.failure_reason is None
        else:
            assert result.failed_for_good, status
            assert result.failure_reason == f"voice {status}"
    assert "nobody answered" in (records["no-answer"]["last_error"] or "")


async def test_pressing_1_acknowledges_the_incident_as_the_called_person(
    make_settings: SettingsFactory, twilio: TwilioServer, router_live: LiveRouter, unique: str
) -> None:
    clara = Person(f"clara-{unique}", {"voice": number(unique)})
    service = await router_live.add_service(unique, [[clara]])
    (page,) = await router_live.trigger(service, "checkout is down")
    assert page.contact_method.type is ContactMethodType.VOICE
    settings = make_settings(
        twilio_base_url=twilio.url, router_url=router_live.url, router_api_token=ROUTER_TOKEN, **public_settings()
    )
    async with Notifier(settings) as notifier, served(notifier):
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
        call = await _placed_call(twilio, clara.addresses["voice"])
        wrong = await asyncio.to_thread(twilio.press, call["sid"], "7")
        assert wrong.status == 200 and "not an option" in wrong.body
        assert (await router_live.incident(page.incident_id))["incident"]["status"] == "triggered"
        reply = await asyncio.to_thread(twilio.press, call["sid"], "1", wrong.body)
    assert reply.status == 200 and reply.content_type.startswith("application/xml")
    root = ET.fromstring(reply.body)
    assert "The incident is acknowledged" in (root.findtext("Say") or "")
    assert root.find("Hangup") is not None
    incident = (await router_live.incident(page.incident_id))["incident"]
    assert incident["status"] == "acknowledged"
    assert incident["acknowledged_by"] == clara.id


async def test_router_unreachable_changes_nothing_and_offers_the_menu_again(
    make_settings: SettingsFactory, make_page: PageFactory, twilio: TwilioServer, unique: str
) -> None:
    settings = make_settings(twilio_base_url=twilio.url, router_url="http://127.0.0.1:9", **public_settings())
    page = make_page(ContactMethodType.VOICE, number(unique))
    async with Notifier(settings) as notifier, served(notifier):
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
        call = await _placed_call(twilio, page.contact_method.address)
        reply = await asyncio.to_thread(twilio.press, call["sid"], "1")
        again = await asyncio.to_thread(twilio.press, call["sid"], "1", reply.body)
        gather_url = f"{settings.public_url}/v1/twilio/voice/gather"
        unknown_call = await asyncio.to_thread(twilio.signed_post, gather_url, {"CallSid": "CAnope", "Digits": "1"})
    root = ET.fromstring(reply.body)
    assert "could not be reached" in ET.tostring(root, encoding="unicode")
    assert root.find("Gather") is not None  # the person can press again
    assert "could not be reached" in again.body  # and that press is tried again, not taken for a replay
    assert "not known to alertrouter" in unknown_call.body


async def test_pressing_2_again_after_an_unconfirmed_escalation_asks_from_the_same_level(
    make_settings: SettingsFactory, make_page: PageFactory, twilio: TwilioServer, unique: str
) -> None:
    """The router took "2" but its answer was lost: the call offered the menu again and a second "2" escalated
    once more (the router moved on from wherever the incident was). Both ask from the call's own level, so the
    router escalates once (its side: tests/router/test_reaching_a_human.py), and the caller hears why not again."""
    with CaptureServer() as router:
        unchanged = {"incident": f"inc-{unique}", "status": "triggered", "changed": False}
        router.script(Reply(500, {"status": 500, "detail": "internal error"}), Reply(200, unchanged))
        settings = make_settings(
            twilio_base_url=twilio.url, router_url=router.url, router_api_token=ROUTER_TOKEN, **public_settings()
        )
        page = make_page(ContactMethodType.VOICE, number(unique, 4), escalation_level=2)
        async with Notifier(settings) as notifier, served(notifier):
            await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
            call = await _placed_call(twilio, page.contact_method.address)
            first = await asyncio.to_thread(twilio.press, call["sid"], "2")
            second = await asyncio.to_thread(twilio.press, call["sid"], "2", first.body)
        asked = [r.json() for r in router.requests if r.path.endswith("/escalate")]
    assert "did not confirm" in first.body and ET.fromstring(first.body).find("Gather") is not None
    assert [a["from_level"] for a in asked] == [2, 2]
    assert "already gone past your level" in second.body and ET.fromstring(second.body).find("Hangup") is not None


async def test_a_replayed_key_press_escalates_once(
    make_settings: SettingsFactory, twilio: TwilioServer, router_live: LiveRouter, unique: str
) -> None:
    """Twilio's signature covers no time: the same signed "2" sent again escalated once more each time."""
    ida = Person(f"ida-{unique}", {"voice": number(unique, 1)})
    jon = Person(f"jon-{unique}", {"voice": number(unique, 2)})
    kai = Person(f"kai-{unique}", {"voice": number(unique, 3)})
    service = await router_live.add_service(unique, [[ida], [jon], [kai]])
    (page,) = await router_live.trigger(service, "orders stuck")
    settings = make_settings(
        twilio_base_url=twilio.url, router_url=router_live.url, router_api_token=ROUTER_TOKEN, **public_settings()
    )
    async with Notifier(settings) as notifier, served(notifier):
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
        call = await _placed_call(twilio, ida.addresses["voice"])
        first = await asyncio.to_thread(twilio.press, call["sid"], "2")
        assert "escalated to the next level" in first.body
        assert (await router_live.incident(page.incident_id))["incident"]["last_level"] == 1  # 0-based: level 2
        replayed = await asyncio.to_thread(twilio.press, call["sid"], "2")
    assert replayed.status == 200 and "already answered" in replayed.body
    assert ET.fromstring(replayed.body).find("Hangup") is not None
    assert (await router_live.incident(page.incident_id))["incident"]["last_level"] == 1  # kai was not paged


async def _placed_twice(
    client: httpx.AsyncClient, twilio: TwilioServer, page: Page
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``page``'s delivery once sent, and its calls: A, created by Twilio but answered after our timeout (so placed
    again: the notifier never learnt A's CallSid), and B, the call recorded."""
    delivery = await final_delivery(client, page.page_id)
    call_a, call_b = twilio.calls
    assert [a["provider_status_code"] for a in delivery["attempts"]] == ["timeout", "queued"]
    assert delivery["status"] == "sent" and delivery["provider_message_id"] == call_b["sid"]
    return delivery, call_a, call_b


async def test_a_key_pressed_on_a_call_whose_creation_was_answered_late_acts_on_its_page(
    make_settings: SettingsFactory, twilio: TwilioServer, router_live: LiveRouter, unique: str
) -> None:
    """Lea answered call A and pressed 1: she heard "not known to alertrouter" and nothing was done (she may be
    paged again, or the next level). A's action URL names the delivery (signed), so A acts as B would."""
    lea = Person(f"lea-{unique}", {"voice": number(unique, 5)})
    service = await router_live.add_service(unique, [[lea]])
    (page,) = await router_live.trigger(service, "payments failing")
    settings = make_settings(
        twilio_base_url=twilio.url, router_url=router_live.url, router_api_token=ROUTER_TOKEN, **public_settings()
    )
    twilio.late_call_answers.append(settings.http_timeout_seconds + 1.5)
    with structlog.testing.capture_logs() as logs:
        async with Notifier(settings) as notifier, served(notifier), api_client(notifier) as client:
            await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
            delivery, call_a, call_b = await _placed_twice(client, twilio, page)
            reply = await asyncio.to_thread(twilio.press, call_a["sid"], "1")
            assert reply.status == 200 and "The incident is acknowledged" in reply.body
            assert ET.fromstring(reply.body).find("Hangup") is not None
            incident = (await router_live.incident(page.incident_id))["incident"]
            assert (incident["status"], incident["acknowledged_by"]) == ("acknowledged", lea.id)
            replayed = await asyncio.to_thread(twilio.press, call_a["sid"], "1")
            assert "already answered" in replayed.body  # answered once, by A's own CallSid
            # an action URL without the parameter (a call placed before it existed) is found by its CallSid
            named = f"?delivery={delivery['delivery_id']}"
            legacy = await asyncio.to_thread(twilio.press, call_b["sid"], "1", call_b["Twiml"].replace(named, ""))
            assert "already acknowledged" in legacy.body
    assert "call_not_recorded" in [line["event"] for line in logs]
    assert not any(lea.addresses["voice"] in str(line) for line in logs)


async def test_an_unrecorded_call_names_its_delivery_under_the_signature_and_its_status_changes_nothing(
    make_settings: SettingsFactory,
    make_page: PageFactory,
    twilio: TwilioServer,
    unique: str,
    deliveries_reader: TopicReader,
) -> None:
    """Changing the delivery in A's URL breaks Twilio's signature. A's "no-answer" (the person answered B) neither
    fails the delivery nor tells the router the person was not reached: the delivery's outcome is B's."""
    settings = make_settings(twilio_base_url=twilio.url, router_url="http://127.0.0.1:9", **public_settings())
    page = make_page(ContactMethodType.VOICE, number(unique, 6))
    twilio.late_call_answers.append(settings.http_timeout_seconds + 1.5)
    with structlog.testing.capture_logs() as logs:
        async with Notifier(settings) as notifier, served(notifier), api_client(notifier) as client:
            await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [page])
            delivery, call_a, call_b = await _placed_twice(client, twilio, page)
            named = f"?delivery={delivery['delivery_id']}"
            action = str(ET.fromstring(call_a["Twiml"]).find("Gather").get("action"))  # type: ignore[union-attr]
            assert action.endswith(named) and call_a["StatusCallback"].endswith(named)
            press = {"AccountSid": TWILIO_SID, "CallSid": call_a["sid"], "Digits": "1", "To": call_a["To"]}
            other = action.replace(named, f"?delivery={'0' * 32}")  # another delivery, under A's signature
            genuine = twilio_signature(TWILIO_TOKEN, action, press)
            forged = await asyncio.to_thread(twilio.signed_post, other, press, signature=genuine)
            unsigned = await asyncio.to_thread(twilio.signed_post, other, press, signature="")
            assert forged.status == unsigned.status == 403

            unanswered = await asyncio.to_thread(twilio.end_call, call_a["sid"], "no-answer")
            assert unanswered.status == 204
            after = (await deliveries_for(client, page=page.page_id))[0]
            assert (after["status"], after["failure_reason"], after["attempts"]) == ("sent", None, delivery["attempts"])
            completed = await asyncio.to_thread(partial(twilio.end_call, duration=20), call_b["sid"], "completed")
            assert completed.status == 204
            assert (await deliveries_for(client, page=page.page_id))[0]["status"] == "delivered"

            async def outcome() -> list[DeliveryStatus] | None:
                statuses = [r.status for r in _published(deliveries_reader, page.page_id)]
                return statuses if DeliveryStatus.DELIVERED in statuses else None

            published = await eventually(outcome, what="B's outcome on the deliveries topic")
    assert DeliveryStatus.UNDELIVERED not in published and DeliveryStatus.FAILED not in published
    assert "twilio_callback_not_the_recorded_call" in [line["event"] for line in logs]
    assert not any(page.contact_method.address in str(line) for line in logs)


def test_failure_reasons_name_the_channel_and_the_outcome() -> None:
    assert failure_reason(ContactMethodType.VOICE, DeliveryStatus.UNDELIVERED, "no-answer", None) == "voice no-answer"
    assert failure_reason(ContactMethodType.SMS, DeliveryStatus.UNDELIVERED, "30003", None) == "sms undelivered (30003)"
    gave_up = f"{GAVE_UP_PREFIX} after 9 attempt(s): slack: HTTP 503"
    assert (
        failure_reason(ContactMethodType.SLACK, DeliveryStatus.FAILED, "503", gave_up)
        == "slack retries past the deadline"
    )
    assert failure_reason(ContactMethodType.EMAIL, DeliveryStatus.EXPIRED, None, None) == "email expired"
    assert failure_reason(ContactMethodType.SMS, DeliveryStatus.SENT, None, None) is None
    assert failure_reason(ContactMethodType.SMS, DeliveryStatus.THROTTLED, None, None) is None
