"""Flood protection and Slack's in-place updates: a status notice that updates its trigger's message (chat.update)
is neither counted nor held by the notices budget, so after a storm every message shows its incident's final
state; notices with no message to update (their trigger was held) stay under the budget; triggers keep theirs;
Slack's rate limit on chat.update (429 + Retry-After) is waited out, not failed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.clock import OffsetClock
from alertrouter_shared.events import ContactMethodType, DeliveryResult, Page, PageKind
from tests.helpers import TopicReader, eventually
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import api_client, deliveries_for, produce_pages
from tests.providers.base import Received
from tests.providers.slack import SlackServer

FINAL = ("sent", "throttled", "failed", "expired")
OPEN_BUTTONS = {"alertrouter_acknowledge", "alertrouter_resolve"}


def storm(make_page: PageFactory, channel_id: str, unique: str, count: int) -> tuple[list[Page], list[Page]]:
    """``count`` incidents triggered to one Slack channel, and their resolves."""
    triggers = [
        make_page(ContactMethodType.SLACK, channel_id, incident_id=f"inc-{unique}-{n}", summary=f"trouble {n}")
        for n in range(count)
    ]
    resolves = [
        make_page(ContactMethodType.SLACK, channel_id, incident_id=t.incident_id, kind=PageKind.RESOLVED)
        for t in triggers
    ]
    return triggers, resolves


async def settled(client: httpx.AsyncClient, pages: list[Page], what: str) -> dict[str, dict[str, Any]]:
    """Each page's delivery once every one of them is final, by page id."""

    async def probe() -> dict[str, dict[str, Any]] | None:
        found: dict[str, dict[str, Any]] = {}
        for page in pages:
            items = await deliveries_for(client, page=page.page_id)
            if not items or items[0]["status"] not in FINAL:
                return None
            found[page.page_id] = items[0]
        return found

    return await eventually(probe, timeout=30, what=what)


def header(message: dict[str, Any]) -> str:
    return str(message["blocks"][0]["text"]["text"])


def digests_posted(slack: SlackServer) -> list[dict[str, Any]]:
    return [m for m in slack.messages if header(m).startswith(":inbox_tray:")]


def posted_message(slack: SlackServer, ref: object) -> dict[str, Any]:
    """The message as it is now in Slack, by its provider message id (``channel/ts``)."""
    channel, _, ts = str(ref).partition("/")
    return slack.posted[(channel, ts)]


def accepted_update(slack: SlackServer, ts: str) -> Received:
    def accepted(request: Received) -> bool:
        return request.path == "/api/chat.update" and request.status == 200 and request.json()["ts"] == ts

    (update,) = slack.matching(accepted)
    return update


def buttons(message: dict[str, Any]) -> set[str]:
    return {e.get("action_id") for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]}


async def test_a_storm_s_resolves_update_every_slack_message_in_place_past_the_notices_budget(
    make_settings: SettingsFactory, make_page: PageFactory, slack: SlackServer, unique: str
) -> None:
    """Nine incidents resolved at once to a channel whose budget is three per minute: three messages were updated
    and six resolves became a digest line ("6 more incident updates"), their messages still saying "triggered"
    with live Acknowledge/Resolve buttons for good. An update posts nothing new: each message is updated."""
    settings = make_settings(
        slack_api_url=f"{slack.url}/api", slack_signing_secret="signing-secret", throttle_slack_max=3
    )
    channel_id = f"C{unique[:8].upper()}"
    triggers, resolves = storm(make_page, channel_id, unique, 9)
    clock = OffsetClock()
    async with Notifier(settings, clock=clock) as notifier, api_client(notifier) as client:
        for n in range(0, 9, 3):  # three triggers a window: each one posted
            await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, triggers[n : n + 3])
            await settled(client, triggers[n : n + 3], f"triggers {n}..{n + 2} sent")
            clock.advance(timedelta(seconds=61))
        sent = await settled(client, triggers, "every trigger sent")
        assert {d["status"] for d in sent.values()} == {"sent"}

        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, resolves)
        told = await settled(client, resolves, "every resolve final")

    for trigger, resolve in zip(triggers, resolves, strict=True):
        record = told[resolve.page_id]
        assert (record["status"], record["provider_status_code"]) == ("sent", "updated"), record
        assert record["provider_message_id"] == sent[trigger.page_id]["provider_message_id"]
        message = posted_message(slack, sent[trigger.page_id]["provider_message_id"])
        assert header(message).startswith(":white_check_mark: RESOLVED"), header(message)
        assert not buttons(message) & OPEN_BUTTONS
    assert len(slack.updates) == 9
    assert len(slack.messages) == 9  # the triggers: no resolve posted anew, no digest
    assert not digests_posted(slack)


async def test_triggers_over_the_pages_budget_are_held_and_the_resolves_with_no_message_keep_the_notices_budget(
    make_settings: SettingsFactory, make_page: PageFactory, slack: SlackServer, unique: str
) -> None:
    """Eight triggers, a budget of three: five are held for the digest, as before. Their resolves have no message
    to update: they would be posted anew, so they go through the notices budget (three posted, two held for a
    digest of updates); the three resolves of posted triggers update their messages without using it."""
    settings = make_settings(
        slack_api_url=f"{slack.url}/api", slack_signing_secret="signing-secret", throttle_slack_max=3
    )
    channel_id = f"C{unique[:8].upper()}"
    triggers, resolves = storm(make_page, channel_id, unique, 8)
    clock = OffsetClock()
    async with Notifier(settings, clock=clock) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, triggers)
        sent = await settled(client, triggers, "every trigger sent or held")
        assert [sent[t.page_id]["status"] for t in triggers] == ["sent"] * 3 + ["throttled"] * 5

        clock.advance(timedelta(seconds=61))  # the pages window closes: its digest goes out
        await asyncio.to_thread(slack.wait_for, 4, 10, lambda r: r.path == "/api/chat.postMessage")
        (alerts,) = digests_posted(slack)
        assert "5 more alerts for checkout" in alerts["text"] + header(alerts) + str(alerts["blocks"])

        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, resolves)
        told = await settled(client, resolves, "every resolve final")
        outcomes = [(told[r.page_id]["status"], told[r.page_id]["provider_status_code"]) for r in resolves]
        assert outcomes[:3] == [("sent", "updated")] * 3  # the posted triggers: updated, outside the budget
        assert (
            sorted(outcomes[3:], key=str) == [("sent", "ok")] * 3 + [("throttled", None)] * 2
        )  # posted anew: within it

        clock.advance(timedelta(seconds=61))  # the notices window closes: the digest of the two held updates
        await asyncio.to_thread(slack.wait_for, 8, 10, lambda r: r.path == "/api/chat.postMessage")
    digests = digests_posted(slack)
    assert len(digests) == 2
    assert "2 more incident updates for checkout" in str(digests[1]["blocks"])
    assert len(slack.updates) == 3
    for trigger in triggers[:3]:
        message = posted_message(slack, sent[trigger.page_id]["provider_message_id"])
        assert header(message).startswith(":white_check_mark: RESOLVED")


async def test_updates_slack_answers_429_are_sent_again_after_retry_after_not_failed(
    make_settings: SettingsFactory,
    make_page: PageFactory,
    slack: SlackServer,
    unique: str,
    deliveries_reader: TopicReader,
) -> None:
    """A burst of updates past the notices budget meets Slack's own rate limit on chat.update: each refused one is
    retried after the Retry-After Slack gave, and ends updated; none is reported failed (which would escalate)."""
    settings = make_settings(
        slack_api_url=f"{slack.url}/api", slack_signing_secret="signing-secret", throttle_slack_max=2
    )
    channel_id = f"C{unique[:8].upper()}"
    triggers, resolves = storm(make_page, channel_id, unique, 4)
    clock = OffsetClock()
    async with Notifier(settings, clock=clock) as notifier, api_client(notifier) as client:
        for n in (0, 2):
            await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, triggers[n : n + 2])
            await settled(client, triggers[n : n + 2], f"triggers {n}, {n + 1} sent")
            clock.advance(timedelta(seconds=61))
        slack.rate_limit("chat.update", 3, retry_after="1")
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, resolves)
        told = await settled(client, resolves, "every resolve final")
    assert [(told[r.page_id]["status"], told[r.page_id]["provider_status_code"]) for r in resolves] == [
        ("sent", "updated")
    ] * 4
    assert len(slack.rate_limited) == 3 and len(slack.updates) == 4
    attempts = [a for d in told.values() for a in d["attempts"]]
    assert (
        sorted((a["status"], a["provider_status_code"]) for a in attempts)
        == [("retrying", "429")] * 3 + [("sent", "updated")] * 4
    )
    for refused in slack.rate_limited:  # each sent again no sooner than Slack asked
        assert accepted_update(slack, refused.json()["ts"]).at - refused.at >= 0.95
    results = [DeliveryResult.model_validate_json(v) for v in deliveries_reader.values]
    ours = {p.page_id for p in resolves}
    assert not [r for r in results if r.page_id in ours and r.status in ("failed", "expired")]
