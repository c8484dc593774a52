"""Escalation notices: the Slack message of the page is updated in place (buttons kept, the note shown), and every
channel says what happened ("Escalated to level 2: dan paged") before the incident's summary."""

from __future__ import annotations

from alertrouter_notifier.channels.base import Links
from alertrouter_notifier.rendering.chat import teams_card
from alertrouter_notifier.rendering.email import subject, text_body
from alertrouter_notifier.rendering.sms import render_sms
from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.events import ContactMethodType, PageKind
from tests.notifier.conftest import PageFactory, SettingsFactory
from tests.notifier.support import api_client, final_delivery, produce_pages
from tests.providers.slack import SlackServer

NOTE = "escalated to level 2: dan paged"


async def test_an_escalation_notice_updates_the_slack_message_in_place(
    make_settings: SettingsFactory, make_page: PageFactory, slack: SlackServer, unique: str
) -> None:
    settings = make_settings(slack_api_url=f"{slack.url}/api", slack_signing_secret="signing-secret")
    channel_id = f"C{unique[:8].upper()}"
    trigger = make_page(ContactMethodType.SLACK, channel_id)
    escalated = make_page(
        ContactMethodType.SLACK, channel_id, kind=PageKind.ESCALATED, status_note=NOTE, escalation_level=2
    )
    async with Notifier(settings) as running, api_client(running) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [trigger])
        first = await final_delivery(client, trigger.page_id)
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [escalated])
        second = await final_delivery(client, escalated.page_id)
    assert len(slack.messages) == 1 and second["provider_status_code"] == "updated"
    assert second["provider_message_id"] == first["provider_message_id"]
    (update,) = slack.updates
    assert update["blocks"][0]["text"]["text"].startswith(":arrow_double_up: ESCALATED:")
    buttons = [e.get("action_id") for b in update["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["alertrouter_acknowledge", "alertrouter_resolve", "runbook"]  # still open: still actionable
    assert update["blocks"][-1]["elements"][0]["text"].startswith("*Escalated to level 2: dan paged* · Incident")


def test_every_channel_says_what_happened_first(make_page: PageFactory) -> None:
    sms = make_page(ContactMethodType.SMS, "+15005550006", kind=PageKind.ESCALATED, status_note=NOTE)
    text = render_sms(sms, Links(acknowledge="https://n.test/acknowledge/t"))
    assert text.startswith("[ESCALATED] checkout: Escalated to level 2: dan paged. 5xx ratio is 7.3%")
    email = make_page(ContactMethodType.EMAIL, "a@example.test", kind=PageKind.ESCALATED, status_note=NOTE)
    assert subject(email).startswith("[ESCALATED] checkout: Escalated to level 2: dan paged.")
    assert text_body(email, Links()).startswith("Escalated to level 2: dan paged. 5xx ratio")
    teams = make_page(ContactMethodType.TEAMS, "https://t.test/hook", kind=PageKind.ESCALATED, status_note=NOTE)
    card = teams_card(teams, Links())["attachments"][0]["content"]
    assert card["body"][0]["text"] == "ESCALATED: checkout"
    assert card["body"][1]["inlines"][0]["text"].startswith("Escalated to level 2: dan paged.")
