"""A page still waiting when its incident is resolved or acknowledged is never sent: the notice's admission ends it
``cancelled``, says why, and publishes it. Before, a trigger waiting for a retry (Slack's 429 + Retry-After) was
posted after the incident was over, with live Acknowledge/Resolve buttons, after the resolve notice itself."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from alertrouter_notifier.intake import endings
from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.events import ContactMethodType, DeliveryResult, PageKind
from tests.helpers import TopicReader, eventually
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import api_client, deliveries_counted, deliveries_for, final_delivery, produce_pages
from tests.providers.base import Received
from tests.providers.servers import CaptureServer, SlackServer

RETRY_AFTER = 3.0
RESOLVED_REASON = "not sent: the incident was resolved before this page could be delivered"
ACKNOWLEDGED_REASON = "not sent: the incident was acknowledged before this page could be delivered"


def trigger_posts(slack: SlackServer, summary: str) -> list[Received]:
    """The chat.postMessage calls of a trigger with this summary (a trigger's message has the buttons)."""

    def of_trigger(request: Received) -> bool:
        if request.path != "/api/chat.postMessage":
            return False
        blocks = str(request.json().get("blocks", ""))
        return summary in str(request.json()) and "alertrouter_acknowledge" in blocks

    return slack.matching(of_trigger)


async def delivery_in(client: httpx.AsyncClient, page_id: str, status: str, timeout: float = 20.0) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        items = await deliveries_for(client, page=page_id)
        return items[0] if items and items[0]["status"] == status else None

    return await eventually(probe, timeout=timeout, what=f"delivery of {page_id} {status}")


async def test_a_trigger_waiting_out_slack_s_retry_after_is_not_sent_once_its_incident_is_resolved(
    make_settings: SettingsFactory,
    make_page: PageFactory,
    slack: SlackServer,
    unique: str,
    deliveries_reader: TopicReader,
) -> None:
    """Two triggers answered 429 with Retry-After wait as ``retrying``; one incident is resolved meanwhile. Its
    trigger is never posted (only the 429'd call reached Slack), ends ``cancelled`` with the reason, visible in
    the API, counted and published; the other incident's trigger is posted after the Retry-After as before."""
    settings = make_settings(slack_api_url=f"{slack.url}/api", slack_signing_secret="signing-secret")
    channel_id = f"C{unique[:8].upper()}"
    over, other = f"over {unique}", f"still on {unique}"
    trigger = make_page(ContactMethodType.SLACK, channel_id, incident_id=f"inc-{unique}-a", summary=over)
    kept = make_page(ContactMethodType.SLACK, channel_id, incident_id=f"inc-{unique}-b", summary=other)
    resolved = make_page(
        ContactMethodType.SLACK, channel_id, incident_id=trigger.incident_id, summary=over, kind=PageKind.RESOLVED
    )
    slack.rate_limit("chat.postMessage", 2, retry_after=f"{RETRY_AFTER:.0f}")
    cancelled_before = deliveries_counted("slack", "cancelled")
    async with Notifier(settings) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [trigger, kept])
        await delivery_in(client, trigger.page_id, "retrying")
        await delivery_in(client, kept.page_id, "retrying")
        (refused,) = trigger_posts(slack, over)
        assert refused.status == 429

        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [resolved])
        ended = await delivery_in(client, trigger.page_id, "cancelled")
        sent = await final_delivery(client, kept.page_id, timeout=RETRY_AFTER + 20)
        retry_time = refused.at + RETRY_AFTER + 1.5  # the refused trigger's retry was due by then, with margin

        async def past_its_retry_time() -> bool:
            return time.time() > retry_time

        await eventually(past_its_retry_time, timeout=RETRY_AFTER + 10, what="the refused trigger's retry time")
        await final_delivery(client, resolved.page_id)
        ended = (await deliveries_for(client, page=trigger.page_id))[0]
        listed = await deliveries_for(client, incident=trigger.incident_id, status="cancelled")

    assert trigger_posts(slack, over) == [refused]  # nothing posted for it after the 429
    assert sent["status"] == "sent" and len(trigger_posts(slack, other)) == 2  # the 429, then the retry
    assert (ended["status"], ended["last_error"], ended["failure_reason"]) == ("cancelled", RESOLVED_REASON, None)
    assert [(a["status"], a["error"]) for a in ended["attempts"]][-1] == ("cancelled", RESOLVED_REASON)
    assert [d["page_id"] for d in listed] == [trigger.page_id]
    assert deliveries_counted("slack", "cancelled") == cancelled_before + 1

    def published() -> list[DeliveryResult]:
        results = [DeliveryResult.model_validate_json(v) for v in deliveries_reader.values]
        return [r for r in results if r.page_id == trigger.page_id and r.status == "cancelled"]

    async def probe() -> list[DeliveryResult]:
        return published()

    (result,) = await eventually(probe, what="the cancelled result on the deliveries topic")
    assert (result.error, result.failed_for_good, result.failure_reason) == (RESOLVED_REASON, False, None)
    assert result.incident_id == trigger.incident_id and result.user_id == trigger.user_id


async def test_an_acknowledgement_ends_everyone_s_waiting_pages_of_the_incident_but_not_those_after_it(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer, unique: str
) -> None:
    """Pages of the incident not yet due (a notification rule's delay) for alice and bob, and bob's escalation
    notice, end ``cancelled`` when alice's acknowledgement notice is admitted: an acknowledged incident stops
    notifying. A trigger admitted in the same batch after the acknowledgement (a responder added just after it)
    is news of its own and is sent; so is another incident's waiting page."""
    settings = make_settings()
    later = datetime.now(UTC) + timedelta(minutes=5)
    incident = f"inc-{unique}-acked"
    url = f"{capture.url}/hooks/{unique}"
    alice = make_page(ContactMethodType.WEBHOOK, url, incident_id=incident, send_at=later)
    bob = make_page(ContactMethodType.WEBHOOK, url, incident_id=incident, user_id="bob", send_at=later)
    bob_told = make_page(ContactMethodType.WEBHOOK, url, incident_id=incident, user_id="bob", kind=PageKind.ESCALATED)
    bob_told = bob_told.model_copy(update={"send_at": later})
    other = make_page(ContactMethodType.WEBHOOK, url, incident_id=f"inc-{unique}-other", send_at=later)
    acked = make_page(ContactMethodType.WEBHOOK, url, incident_id=incident, kind=PageKind.ACKNOWLEDGED)
    responder = make_page(ContactMethodType.WEBHOOK, url, incident_id=incident, user_id="carol")
    async with Notifier(settings) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [alice, bob, bob_told, other])
        for page in (alice, bob, bob_told, other):
            await delivery_in(client, page.page_id, "pending")
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [acked, responder])
        for page in (alice, bob, bob_told):
            ended = await delivery_in(client, page.page_id, "cancelled")
            assert ended["last_error"] == ACKNOWLEDGED_REASON
        assert (await final_delivery(client, responder.page_id))["status"] == "sent"
        assert (await final_delivery(client, acked.page_id))["status"] == "sent"
        assert (await deliveries_for(client, page=other.page_id))[0]["status"] == "pending"


async def test_a_resolve_ends_a_waiting_acknowledged_notice_but_an_acknowledgement_ends_no_resolved_one(
    make_settings: SettingsFactory, make_page: PageFactory, capture: CaptureServer, unique: str
) -> None:
    """An acknowledged notice still waiting when its incident's resolve is admitted would be sent after the resolved
    one (both waiting out Slack's Retry-After, say) and set the page's message back to "acknowledged", with a
    Resolve button, for an incident over: it ends ``cancelled``. An acknowledgement ends no resolved notice."""
    settings = make_settings()
    later = datetime.now(UTC) + timedelta(minutes=5)
    url = f"{capture.url}/hooks/{unique}"
    incident, other = f"inc-{unique}-over", f"inc-{unique}-taken"
    acked = make_page(ContactMethodType.WEBHOOK, url, incident_id=incident, kind=PageKind.ACKNOWLEDGED)
    acked = acked.model_copy(update={"send_at": later})
    resolved = make_page(ContactMethodType.WEBHOOK, url, incident_id=incident, kind=PageKind.RESOLVED)
    resolved_first = make_page(ContactMethodType.WEBHOOK, url, incident_id=other, kind=PageKind.RESOLVED)
    resolved_first = resolved_first.model_copy(update={"send_at": later})
    acked_after = make_page(ContactMethodType.WEBHOOK, url, incident_id=other, kind=PageKind.ACKNOWLEDGED)
    async with Notifier(settings) as notifier, api_client(notifier) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [acked, resolved_first])
        for page in (acked, resolved_first):
            await delivery_in(client, page.page_id, "pending")
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [resolved, acked_after])
        ended = await delivery_in(client, acked.page_id, "cancelled")
        assert ended["last_error"] == RESOLVED_REASON
        assert (await final_delivery(client, resolved.page_id))["status"] == "sent"
        assert (await final_delivery(client, acked_after.page_id))["status"] == "sent"
        assert (await deliveries_for(client, page=resolved_first.page_id))[0]["status"] == "pending"


def test_a_batch_s_own_pages_are_ended_only_when_they_come_before_its_acknowledgement_or_resolution(
    make_page: PageFactory, unique: str
) -> None:
    """Pure: which of a batch's pages its acknowledged/resolved pages end, and with which reason (resolved wins)."""
    url = "https://hooks.example.test/x"
    before = make_page(ContactMethodType.WEBHOOK, url, incident_id="i1")
    acked = make_page(ContactMethodType.WEBHOOK, url, incident_id="i1", kind=PageKind.ACKNOWLEDGED)
    after = make_page(ContactMethodType.WEBHOOK, url, incident_id="i1", user_id="carol")
    resolved = make_page(ContactMethodType.WEBHOOK, url, incident_id="i2", kind=PageKind.RESOLVED)
    acked_too = make_page(ContactMethodType.WEBHOOK, url, incident_id="i2", kind=PageKind.ACKNOWLEDGED)
    elsewhere = make_page(ContactMethodType.WEBHOOK, url, incident_id="i3")
    ends = endings([before, acked, after, resolved, acked_too, elsewhere])
    assert ends.reasons == {"i1": ACKNOWLEDGED_REASON, "i2": RESOLVED_REASON}
    assert ends.before == {(before.page_id, before.contact_method.id)}
    assert endings([before, after, elsewhere]).reasons == {}
    # one batch: an acknowledged notice before its incident's resolve is ended by it, not one after it
    first_acked = make_page(ContactMethodType.WEBHOOK, url, incident_id="i2", kind=PageKind.ACKNOWLEDGED)
    ends = endings([first_acked, before, resolved, acked_too])
    assert ends.before == {(first_acked.page_id, first_acked.contact_method.id)}
    earlier_ack = make_page(ContactMethodType.WEBHOOK, url, incident_id="i1", kind=PageKind.ACKNOWLEDGED)
    assert endings([earlier_ack, acked]).before == set()  # an acknowledgement ends no acknowledged notice
