"""`make dev`'s Twilio stand-in (scripts/capture_server.py): the dev notifier's account check passes against it, SMS
and voice pages reach it, the final status it signs and posts back is accepted by the notifier, a reply it plays,
or a key pressed during a call, acknowledges through the real router, and a call it plays unanswered is reported
so. Before it, the SMS and voice pages of the example people failed with "channel 'sms' is not configured"."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.events import ContactMethodType
from tests.helpers import eventually, free_port
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.live import ROUTER_TOKEN, LiveRouter, Person, public_settings, served
from tests.notifier.support import api_client, auth, deliveries_for, produce_pages

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import dev  # noqa: E402


async def test_dev_pages_by_sms_and_voice_reach_the_stand_in_and_come_back_delivered(
    make_settings: SettingsFactory, make_page: PageFactory
) -> None:
    sink_port, notifier_port = free_port(), free_port()
    sink = subprocess.Popen(dev.capture_command(sink_port), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        settings = make_settings(
            **_dev_twilio(sink_port),
            port=notifier_port,
            public_url=f"http://127.0.0.1:{notifier_port}",
        )
        sms = make_page(ContactMethodType.SMS, "+447700900101")
        call = make_page(ContactMethodType.VOICE, "+447700900102", summary="checkout is down")
        async with Notifier(settings) as notifier, served(notifier), api_client(notifier) as client:

            async def checked() -> dict[str, Any] | None:
                response = await client.post("/v1/providers/check", json={"channels": ["sms", "voice"]}, headers=auth())
                found = response.json()["providers"] if response.status_code == 200 else []
                return {p["provider"]: p["status"] for p in found} if found else None

            checks = await eventually(checked, what="the provider check against the stand-in")
            assert checks == {"twilio": "ok", "twilio-voice": "ok"}, checks

            await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [sms, call])

            async def delivered() -> list[dict[str, Any]] | None:
                found = [d for page in (sms, call) for d in await deliveries_for(client, page=page.page_id)]
                return found if len(found) == 2 and all(d["status"] == "delivered" for d in found) else None

            deliveries = await eventually(delivered, timeout=30, what="both pages delivered by status callback")

            captured = (await notifier.http.get(f"http://127.0.0.1:{sink_port}/captured")).json()
    finally:
        sink.terminate()
        sink.wait(timeout=10)

    by_channel = {entry["channel"]: entry for entry in captured if "channel" in entry}
    assert by_channel["sms"]["to"] == "+447700900101"
    assert sms.summary in by_channel["sms"]["body"]
    assert by_channel["voice"]["to"] == "+447700900102"
    assert "checkout is down" in by_channel["voice"]["body"] and "<Gather" in by_channel["voice"]["body"]
    sids = {d["provider_message_id"] for d in deliveries}
    assert sids == {by_channel["sms"]["sid"], by_channel["voice"]["sid"]}


def _dev_twilio(sink_port: int) -> dict[str, Any]:
    """The dev stack's NOTIFIER_TWILIO_* and NOTIFIER_SMS_REPLIES as settings, the API on ``sink_port``."""
    environment = dev.dev_env("127.0.0.1:9", "postgresql+asyncpg://dev@127.0.0.1:9/dev")
    prefixes = ("NOTIFIER_TWILIO_", "NOTIFIER_SMS_REPLIES")
    found: dict[str, Any] = {
        name.removeprefix("NOTIFIER_").lower(): value
        for name, value in environment.items()
        if name.startswith(prefixes)
    }
    assert found["twilio_base_url"] == f"http://127.0.0.1:{dev.CAPTURE_PORT}"
    return found | {"twilio_base_url": f"http://127.0.0.1:{sink_port}"}


@dataclass
class Played:
    """A page of the live router for ``person`` (one contact method), sent by a notifier set up as the dev stack's,
    through a stand-in that plays replies and key presses to it."""

    person: Person
    number: str
    incident_id: str
    page_id: str
    client: httpx.AsyncClient
    sink_url: str
    notifier: httpx.AsyncClient  # the notifier's API

    async def captured(self, channel: str) -> list[dict[str, Any]] | None:
        captured = (await self.client.get(f"{self.sink_url}/captured")).json()
        return [e for e in captured if e.get("channel") == channel and e["to"] == self.number] or None


@contextlib.asynccontextmanager
async def played_page(
    make_settings: SettingsFactory,
    router_live: LiveRouter,
    unique: str,
    channel: str,
    ends: dict[str, str] | None = None,
) -> AsyncIterator[Played]:
    """``ends``: the form of a ``POST /twilio/outcome`` for the person's number, posted before the page."""
    sink_port, public = free_port(), public_settings()
    command = dev.capture_command(sink_port, notifier_url=public["public_url"])
    sink = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    number = "+1203556" + str(int(unique[:8], 16) % 10_000).zfill(4)
    try:
        settings = make_settings(
            **_dev_twilio(sink_port), router_url=router_live.url, router_api_token=ROUTER_TOKEN, **public
        )
        assert settings.sms_replies
        person = Person(f"dana-{unique}", {channel: number})
        service = await router_live.add_service(unique, [[person]])
        async with (
            Notifier(settings) as notifier,
            served(notifier),
            httpx.AsyncClient() as client,
            api_client(notifier) as notifier_api,
        ):
            sink_url = f"http://127.0.0.1:{sink_port}"
            if ends is not None:
                told = await client.post(f"{sink_url}/twilio/outcome", data={"To": number, **ends})
                assert told.status_code == 200, told.text
            (page,) = await router_live.trigger(service, "payments API 5xx")
            await notifier.producer.send_and_wait(settings.pages_topic, page.model_dump_json().encode())
            yield Played(person, number, page.incident_id, page.page_id, client, sink_url, notifier_api)
    finally:
        sink.terminate()
        sink.wait(timeout=10)


async def test_a_reply_played_by_the_stand_in_acknowledges_as_the_paged_person(
    make_settings: SettingsFactory, router_live: LiveRouter, unique: str
) -> None:
    async with played_page(make_settings, router_live, unique, "sms") as played:
        (sms,) = await eventually(lambda: played.captured("sms"), what="the page's SMS at the stand-in")
        assert "Reply 1=ack 4=resolve" in sms["body"]
        form = {"From": played.number, "Body": "1"}
        replied = await played.client.post(f"{played.sink_url}/twilio/reply", data=form)
        assert replied.status_code == 200, replied.text
        assert replied.json()["answer"].startswith("Acknowledged: #")
        incident = (await router_live.incident(played.incident_id))["incident"]
        assert (incident["status"], incident["acknowledged_by"]) == ("acknowledged", played.person.id)
        texted = await played.captured("sms")
        assert texted and texted[-1]["body"] == replied.json()["answer"]  # the notifier's answer, texted back


async def test_a_key_press_played_by_the_stand_in_acknowledges_the_call_as_the_paged_person(
    make_settings: SettingsFactory, router_live: LiveRouter, unique: str
) -> None:
    async with played_page(make_settings, router_live, unique, "voice") as played:
        (call,) = await eventually(lambda: played.captured("voice"), what="the page's call at the stand-in")
        press = f"{played.sink_url}/twilio/press"
        keyless = await played.client.post(press, data={"CallSid": call["sid"]})
        assert keyless.status_code == 400, keyless.text
        unknown = await played.client.post(press, data={"To": "+15005550009", "Digits": "1"})
        assert unknown.status_code == 404, unknown.text  # no call went to that number
        wrong = await played.client.post(press, data={"CallSid": call["sid"], "Digits": "7"})
        assert wrong.status_code == 200 and "not an option" in wrong.json()["answer"], wrong.text
        pressed = await played.client.post(press, data={"To": played.number, "Digits": "1"})
        assert pressed.status_code == 200, pressed.text
        assert "acknowledged" in pressed.json()["answer"].lower(), pressed.json()
        incident = (await router_live.incident(played.incident_id))["incident"]
        assert (incident["status"], incident["acknowledged_by"]) == ("acknowledged", played.person.id)


async def test_a_call_the_stand_in_plays_unanswered_is_reported_a_voice_no_answer(
    make_settings: SettingsFactory, router_live: LiveRouter, unique: str
) -> None:
    """So a page nobody answers, and what follows it, can be played on the dev stack: the notifier reports the call
    failed for good, as it would Twilio's callback (the router's side: tests/router/test_reaching_a_human.py)."""
    no_answer = {"CallStatus": "no-answer"}
    async with played_page(make_settings, router_live, unique, "voice", no_answer) as played:

        async def unanswered() -> dict[str, Any] | None:
            found = await deliveries_for(played.notifier, page=played.page_id)
            final = found and found[0]["status"] in ("delivered", "undelivered", "failed")
            return found[0] if final else None

        delivery = await eventually(unanswered, timeout=30, what="the call's final status at the notifier")
        assert (delivery["status"], delivery["failure_reason"]) == ("undelivered", "voice no-answer"), delivery
        outcome = {"To": played.number, "CallStatus": "x"}
        bad = await played.client.post(f"{played.sink_url}/twilio/outcome", data=outcome)
        assert bad.status_code == 400 and "no-answer" in bad.json()["choices"]["voice"], bad.text


async def test_the_stand_in_refuses_other_credentials() -> None:
    """A misconfigured account or token is refused as Twilio refuses it (401, code 20003), so the dev stack's
    settings and the stand-in cannot drift apart unnoticed."""
    port = free_port()
    sink = subprocess.Popen(dev.capture_command(port), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/2010-04-01/Accounts/{dev.DEV_TWILIO_SID}/Messages.json"
    form = {"To": "+447700900101", "From": "+15005550006", "Body": "hello"}
    try:
        async with httpx.AsyncClient() as client:

            async def answer(token: str) -> httpx.Response | None:
                try:
                    return await client.post(url, data=form, auth=(dev.DEV_TWILIO_SID, token))
                except httpx.TransportError:  # not listening yet
                    return None

            wrong = await eventually(lambda: answer("not-the-token"), what="the stand-in answering")
            assert wrong.status_code == 401 and wrong.json()["code"] == 20003
            right = await answer(dev.DEV_TWILIO_TOKEN)
        assert right is not None and right.status_code == 201 and right.json()["sid"].startswith("SM")
    finally:
        sink.terminate()
        sink.wait(timeout=10)
