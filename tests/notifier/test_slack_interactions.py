"""Slack buttons: signed interactions act through the real router as the person the Slack account belongs to,
and the message is updated in place; forged, stale and unlinked clicks change nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.events import ContactMethodType, Page, PageKind
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.live import ROUTER_TOKEN, LiveRouter, Person, public_settings, served
from tests.notifier.support import SLACK_TOKEN, api_client, final_delivery, produce_pages
from tests.providers.slack import SlackServer
from tests.providers.twilio import TwilioServer

SIGNING_SECRET = "slack-signing-secret-notifier-test"
CONSOLE = "https://oncall.example.test"


@pytest.fixture
def slack_app() -> Any:
    with SlackServer(bot_token=SLACK_TOKEN, signing_secret=SIGNING_SECRET) as server:
        yield server


@pytest.fixture
async def notifier(
    make_settings: SettingsFactory, slack_app: SlackServer, twilio: TwilioServer, router_live: LiveRouter
) -> AsyncIterator[Notifier]:
    settings = make_settings(
        twilio_base_url=twilio.url,  # the suite's Twilio account is a local stand-in: a loopback public URL serves it
        slack_api_url=f"{slack_app.url}/api",
        slack_signing_secret=SIGNING_SECRET,
        router_url=router_live.url,
        router_api_token=ROUTER_TOKEN,
        throttle_slack_max=0,
        console_url=CONSOLE,
        **public_settings(),
    )
    async with Notifier(settings) as running, served(running):
        yield running


def member(unique: str, suffix: str) -> str:
    return f"U{unique[:8].upper()}{suffix}"


async def _posted(notifier: Notifier, slack: SlackServer, pages: list[Page], address: str) -> tuple[str, str]:
    """Hands the router's pages to the notifier; returns (channel, ts) of the message posted to ``address``, once
    its delivery is recorded (a click can only be matched to a message the notifier knows it posted)."""
    for page in pages:
        await notifier.producer.send_and_wait(notifier.settings.pages_topic, page.model_dump_json().encode())
    async with api_client(notifier) as client:
        for page in pages:
            await final_delivery(client, page.page_id)
    message = next(m for m in slack.messages if m.get("channel") == address)
    return message["posted_channel"], message["ts"]


async def _click(
    notifier: Notifier, slack: SlackServer, where: tuple[str, str], action: str, who: str, **kw: Any
) -> int:
    url = f"{notifier.settings.public_url}/v1/slack/interactions"
    reply = await asyncio.to_thread(slack.click, url, where[0], where[1], action, who, **kw)
    return reply.status


def _buttons(message: dict[str, Any]) -> list[str]:
    return [e.get("action_id", "") for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


async def _incident(router: LiveRouter, page: Page) -> tuple[str, str | None, str | None]:
    incident = (await router.incident(page.incident_id))["incident"]
    return incident["status"], incident["acknowledged_by"], incident["resolved_by"]


async def test_buttons_acknowledge_then_resolve_and_the_message_follows(
    notifier: Notifier, slack_app: SlackServer, router_live: LiveRouter, unique: str
) -> None:
    gina = Person(f"gina-{unique}", {"slack": member(unique, "G")})
    service = await router_live.add_service(unique, [[gina]])
    (page,) = await router_live.trigger(service, "checkout latency")
    where = await _posted(notifier, slack_app, [page], gina.addresses["slack"])
    buttons = next(b for b in slack_app.posted[where]["blocks"] if b["type"] == "actions")["elements"]
    assert [(b["action_id"], b.get("value"), b.get("url")) for b in buttons] == [
        ("alertrouter_acknowledge", page.incident_id, None),
        ("alertrouter_resolve", page.incident_id, None),
        ("open_incident", None, f"{CONSOLE}/ui/incidents/{page.incident_id}"),
    ]

    assert await _click(notifier, slack_app, where, "alertrouter_acknowledge", gina.addresses["slack"]) == 200
    assert await _incident(router_live, page) == ("acknowledged", gina.id, None)
    (update,) = slack_app.updates
    assert (update["channel"], update["ts"]) == where
    assert update["blocks"][0]["text"]["text"].startswith(":eyes: ACKNOWLEDGED:")
    assert f"*Acknowledged* by {gina.id.title()} via Slack" in update["blocks"][-1]["elements"][0]["text"]
    assert _buttons(slack_app.posted[where]) == ["alertrouter_resolve", "open_incident"]

    assert await _click(notifier, slack_app, where, "alertrouter_resolve", gina.addresses["slack"]) == 200
    assert await _incident(router_live, page) == ("resolved", gina.id, gina.id)
    assert _buttons(slack_app.posted[where]) == ["open_incident"]  # nothing left to do, still a way to look
    assert slack_app.responses == []  # nothing to explain to gina


async def test_a_page_to_a_direct_message_id_is_answered_by_its_person(
    notifier: Notifier, slack_app: SlackServer, router_live: LiveRouter, unique: str
) -> None:
    """A contact method may name the person's direct-message conversation (D…) instead of their member id (U…):
    the click's member id matched nothing, and the paged person was told their account was not linked. A direct
    message has one person in it: a click there is theirs."""
    dm = f"D{unique[:8].upper()}H"
    hana = Person(f"hana-{unique}", {"slack": dm})
    service = await router_live.add_service(unique, [[hana]])
    (page,) = await router_live.trigger(service, "queue depth")
    where = await _posted(notifier, slack_app, [page], dm)
    assert where[0] == dm
    assert await _click(notifier, slack_app, where, "alertrouter_acknowledge", member(unique, "H")) == 200
    assert await _incident(router_live, page) == ("acknowledged", hana.id, None)
    assert slack_app.responses == []


async def test_a_channel_message_acts_as_the_clicking_person_and_strangers_change_nothing(
    notifier: Notifier, slack_app: SlackServer, router_live: LiveRouter, unique: str
) -> None:
    channel_id = f"C{unique[:8].upper()}"
    ivy = Person(f"ivy-{unique}", {"slack": channel_id})
    jack = Person(f"jack-{unique}", {"slack": member(unique, "J")})
    service = await router_live.add_service(unique, [[ivy, jack]])
    pages = await router_live.trigger(service, "replica lag", count=2)
    where = await _posted(notifier, slack_app, pages, channel_id)
    incident = pages[0]

    assert await _click(notifier, slack_app, where, "alertrouter_acknowledge", "U0STRANGER") == 200
    (explained,) = slack_app.responses
    assert explained["response_type"] == "ephemeral" and "not linked to an alertrouter user" in explained["text"]
    assert await _incident(router_live, incident) == ("triggered", None, None)
    assert slack_app.updates == []

    assert await _click(notifier, slack_app, where, "alertrouter_acknowledge", jack.addresses["slack"]) == 200
    assert await _incident(router_live, incident) == ("acknowledged", jack.id, None)
    assert f"by {jack.id} via Slack" in slack_app.updates[-1]["blocks"][-1]["elements"][0]["text"]


async def test_forged_replayed_and_malformed_interactions_are_refused(
    notifier: Notifier, slack_app: SlackServer, router_live: LiveRouter, unique: str
) -> None:
    kim = Person(f"kim-{unique}", {"slack": member(unique, "K")})
    service = await router_live.add_service(unique, [[kim]])
    (page,) = await router_live.trigger(service, "error budget burn")
    where = await _posted(notifier, slack_app, [page], kim.addresses["slack"])
    who = kim.addresses["slack"]

    assert await _click(notifier, slack_app, where, "alertrouter_acknowledge", who, secret="guess") == 401
    assert await _click(notifier, slack_app, where, "alertrouter_acknowledge", who, age_seconds=301) == 401
    async with httpx.AsyncClient() as client:
        unsigned = await client.post(
            f"{notifier.settings.public_url}/v1/slack/interactions",
            content=b"payload=%7B%7D",
            headers={"X-Slack-Request-Timestamp": "1", "Content-Type": "application/x-www-form-urlencoded"},
        )
    assert unsigned.status_code == 401
    assert unsigned.headers["content-type"].startswith("application/problem+json")
    assert await _incident(router_live, page) == ("triggered", None, None)
    assert slack_app.updates == [] and slack_app.responses == []


async def test_acknowledged_and_resolved_notices_update_the_page_message_in_place(
    make_settings: SettingsFactory, make_page: PageFactory, slack_app: SlackServer, unique: str
) -> None:
    settings = make_settings(
        slack_api_url=f"{slack_app.url}/api", slack_signing_secret=SIGNING_SECRET, console_url=CONSOLE
    )
    channel_id = f"C{unique[:8].upper()}"
    trigger = make_page(ContactMethodType.SLACK, channel_id)
    acknowledged = make_page(ContactMethodType.SLACK, channel_id, kind=PageKind.ACKNOWLEDGED)
    resolved = make_page(ContactMethodType.SLACK, channel_id, kind=PageKind.RESOLVED)
    async with Notifier(settings) as running, api_client(running) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [trigger])
        first = await final_delivery(client, trigger.page_id)
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [acknowledged])
        second = await final_delivery(client, acknowledged.page_id)
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [resolved])
        third = await final_delivery(client, resolved.page_id)
    assert len(slack_app.messages) == 1  # one message for the incident, changed twice
    assert first["provider_message_id"] == second["provider_message_id"] == third["provider_message_id"]
    assert (second["provider_status_code"], third["provider_status_code"]) == ("updated", "updated")
    channel, ts = first["provider_message_id"].split("/")
    assert [(u["channel"], u["ts"]) for u in slack_app.updates] == [(channel, ts)] * 2
    assert slack_app.updates[0]["blocks"][0]["text"]["text"].startswith(":eyes: ACKNOWLEDGED:")
    assert _buttons(slack_app.updates[0]) == ["alertrouter_resolve", "open_incident", "runbook"]
    assert slack_app.updates[1]["blocks"][0]["text"]["text"].startswith(":white_check_mark: RESOLVED:")
    assert _buttons(slack_app.posted[(channel, ts)]) == ["open_incident", "runbook"]


async def test_a_member_of_another_team_clicking_in_a_shared_channel_is_refused(
    notifier: Notifier, slack_app: SlackServer, router_live: LiveRouter, unique: str
) -> None:
    """The notifier acts as an admin machine client, so the router checks the person it names: olga's Slack account
    is linked (her own team paged her), but the incident is another team's and never paged her."""
    channel_id = f"C{unique[:8].upper()}S"
    ivy = Person(f"ivy-{unique}", {"slack": channel_id})
    service = await router_live.add_service(unique, [[ivy]])
    olga = Person(f"olga-{unique}", {"slack": member(unique, "O")})
    theirs = await router_live.add_service(f"{unique}o", [[olga]])  # another team, olga's own
    (olga_page,) = await router_live.trigger(theirs, "their own incident")
    await _posted(notifier, slack_app, [olga_page], olga.addresses["slack"])  # her member id is linked now
    (page,) = await router_live.trigger(service, "replica lag")
    where = await _posted(notifier, slack_app, [page], channel_id)

    assert await _click(notifier, slack_app, where, "alertrouter_acknowledge", olga.addresses["slack"]) == 200
    (explained,) = slack_app.responses
    assert explained["response_type"] == "ephemeral"
    assert explained["text"].startswith(f"You may not acknowledge this incident (user {olga.id} (teams: team-")
    assert explained["text"].endswith("; nothing was changed.") and "could not be reached" not in explained["text"]
    assert await _incident(router_live, page) == ("triggered", None, None)
    assert slack_app.updates == []  # the message still offers the buttons to the people who may press them


async def test_a_click_acts_once_however_often_its_signed_request_is_sent(
    notifier: Notifier, slack_app: SlackServer, router_live: LiveRouter, unique: str
) -> None:
    """Slack's signature is good for five minutes: within them, the same request again must change nothing."""
    lena = Person(f"lena-{unique}", {"slack": member(unique, "L")})
    omar = Person(f"omar-{unique}", {"slack": member(unique, "M")})
    service = await router_live.add_service(unique, [[lena], [omar]])
    (page,) = await router_live.trigger(service, "cache evictions")
    where = await _posted(notifier, slack_app, [page], lena.addresses["slack"])
    url = f"{notifier.settings.public_url}/v1/slack/interactions"
    first = await asyncio.to_thread(
        slack_app.click, url, where[0], where[1], "alertrouter_acknowledge", lena.addresses["slack"]
    )
    assert first.status == 200 and len(slack_app.updates) == 1
    assert await _incident(router_live, page) == ("acknowledged", lena.id, None)
    # triggered again (escalated now): the captured click must not acknowledge it a second time
    escalated = await router_live.api.post(f"/v1/incidents/{page.incident_id}/escalate", json={"by": lena.id})
    assert escalated.status_code == 200 and escalated.json()["status"] == "triggered", escalated.text
    replayed = await asyncio.to_thread(slack_app.post_click, url, *first.sent)
    assert replayed.status == 200
    assert await _incident(router_live, page) == ("triggered", None, None)
    assert len(slack_app.updates) == 1 and slack_app.responses == []


async def test_a_click_on_an_incident_already_closed_names_nobody_on_the_message(
    notifier: Notifier, slack_app: SlackServer, router_live: LiveRouter, unique: str
) -> None:
    """Someone else acknowledged first: the click changes nothing, so the message must not say the clicker did."""
    channel_id = f"C{unique[:8].upper()}U"
    max_ = Person(f"max-{unique}", {"slack": channel_id})
    nia = Person(f"nia-{unique}", {"slack": member(unique, "N")})
    service = await router_live.add_service(unique, [[max_, nia]])
    pages = await router_live.trigger(service, "queue depth", count=2)
    await _posted(notifier, slack_app, pages, nia.addresses["slack"])  # nia's member id is linked
    where = await _posted(notifier, slack_app, pages, channel_id)
    acked = await router_live.api.post(f"/v1/incidents/{pages[0].incident_id}/acknowledge", json={"by": max_.id})
    assert acked.status_code == 200, acked.text
    updates = len(slack_app.updates)

    assert await _click(notifier, slack_app, where, "alertrouter_acknowledge", nia.addresses["slack"]) == 200
    (explained,) = slack_app.responses
    assert explained["text"] == "The incident is already acknowledged; nothing was changed."
    assert len(slack_app.updates) == updates  # no "Acknowledged by nia via Slack"
    assert await _incident(router_live, pages[0]) == ("acknowledged", max_.id, None)
