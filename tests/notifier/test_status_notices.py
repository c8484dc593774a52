"""Escalation notices: the Slack message of the page is updated in place (buttons kept, the note shown), and every
channel says what happened ("Escalated to level 2: dan paged") before the incident's summary. Shift reminders:
every channel names the schedule and the shift's times, with nothing to acknowledge."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from alertrouter_notifier.channels.base import Links
from alertrouter_notifier.rendering.chat import teams_card
from alertrouter_notifier.rendering.email import subject, text_body
from alertrouter_notifier.rendering.slack import slack_message
from alertrouter_notifier.rendering.sms import render_sms
from alertrouter_notifier.runtime import Notifier
from alertrouter_shared.events import ContactMethodType, PageKind, PageShift, Severity
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


async def test_a_notice_updates_its_own_person_s_message_when_another_shares_the_contact_method_id(
    make_settings: SettingsFactory, make_page: PageFactory, slack: SlackServer, unique: str
) -> None:
    """Contact method ids are unique per person only: alice's notice looked the message up by incident and contact
    method id, found bob's newer trigger, and rewrote bob's message while alice's kept its buttons."""
    settings = make_settings(slack_api_url=f"{slack.url}/api", slack_signing_secret="signing-secret")
    alice_dm, bob_dm = f"U{unique[:8].upper()}A", f"U{unique[:8].upper()}B"
    alice = make_page(ContactMethodType.SLACK, alice_dm)
    bob = make_page(
        ContactMethodType.SLACK, bob_dm, user_id="bob", user_name="Bob Example", escalation_level=2
    ).model_copy(update={"contact_method": alice.contact_method.model_copy(update={"address": bob_dm})})
    told = make_page(ContactMethodType.SLACK, alice_dm, kind=PageKind.ACKNOWLEDGED, status_note="by carol")
    async with Notifier(settings) as running, api_client(running) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [alice])
        first = await final_delivery(client, alice.page_id)
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [bob])
        await final_delivery(client, bob.page_id)
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [told])
        notice = await final_delivery(client, told.page_id)
    assert notice["provider_status_code"] == "updated"
    assert notice["provider_message_id"] == first["provider_message_id"]
    (update,) = slack.updates
    assert update["channel"] == "D" + alice_dm[1:]  # her direct message, as Slack names it


async def test_a_notice_whose_slack_message_was_deleted_is_posted_as_a_new_message(
    make_settings: SettingsFactory, make_page: PageFactory, slack: SlackServer, unique: str
) -> None:
    """The page's message was deleted in Slack (or can no longer be edited): chat.update answered
    message_not_found and the notice failed for good, so nobody in the channel learnt of the escalation.
    It is posted as a message of its own instead."""
    settings = make_settings(slack_api_url=f"{slack.url}/api", slack_signing_secret="signing-secret")
    channel_id = f"C{unique[:8].upper()}"
    trigger = make_page(ContactMethodType.SLACK, channel_id)
    escalated = make_page(
        ContactMethodType.SLACK, channel_id, kind=PageKind.ESCALATED, status_note=NOTE, escalation_level=2
    )
    async with Notifier(settings) as running, api_client(running) as client:
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [trigger])
        first = await final_delivery(client, trigger.page_id)
        slack.delete(*first["provider_message_id"].split("/"))
        await produce_pages(settings.kafka_bootstrap_servers, settings.pages_topic, [escalated])
        second = await final_delivery(client, escalated.page_id)
    assert (second["status"], second["provider_status_code"]) == ("sent", "ok")
    assert second["provider_message_id"] != first["provider_message_id"]
    assert not slack.updates and len(slack.messages) == 2
    assert slack.messages[1]["blocks"][0]["text"]["text"].startswith(":arrow_double_up: ESCALATED:")


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


REMINDER = (
    "Your on-call shift for Payments primary starts Mon 30 Mar 2026 09:00 CEST and lasts until "
    "Tue 31 Mar 2026 09:00 CEST (Europe/Berlin)."
)
SHIFT = PageShift(
    schedule_id="payments-primary",
    schedule_name="Payments primary",
    starts_at=datetime(2026, 3, 30, 7, tzinfo=UTC),
    ends_at=datetime(2026, 3, 31, 7, tzinfo=UTC),
    time_zone="Europe/Berlin",
)


def test_a_shift_reminder_on_every_channel(make_page: PageFactory) -> None:
    def reminder(channel: ContactMethodType, address: str) -> Any:
        return make_page(
            channel, address, kind=PageKind.SHIFT_REMINDER, summary=REMINDER, shift=SHIFT, severity=Severity.INFO
        )

    links = Links(acknowledge="https://n.test/acknowledge/t", resolve="https://n.test/resolve/t")
    assert render_sms(reminder(ContactMethodType.SMS, "+15005550006"), links) == f"[ON CALL] {REMINDER}"
    email = reminder(ContactMethodType.EMAIL, "a@example.test")
    assert subject(email) == f"[ON CALL] {REMINDER}"  # 144 characters: within the 150 of a subject
    assert text_body(email, Links()).startswith(f"{REMINDER}\n\nSchedule: Payments primary\nTime zone: Europe/Berlin")
    slack = slack_message(reminder(ContactMethodType.SLACK, "U0ANNA"), Links(), interactive=True)
    assert slack["blocks"][0]["text"]["text"] == ":calendar: ON CALL: Payments primary"
    assert slack["blocks"][1]["text"]["text"] == REMINDER
    assert not [b for b in slack["blocks"] if b["type"] == "actions"]
    card = teams_card(reminder(ContactMethodType.TEAMS, "https://t.test/hook"), links)["attachments"][0]["content"]
    assert card["body"][0]["text"] == "ON CALL: Payments primary" and card["actions"] == []
    assert card["body"][1]["inlines"][0]["text"] == REMINDER


STOOD_DOWN = (
    "You are no longer on call for Payments primary from Mon 30 Mar 2026 09:00 CEST until "
    "Tue 31 Mar 2026 09:00 CEST: Anna covers it (Europe/Berlin)."
)


@pytest.mark.parametrize("change", ["stood_down", "new_end"])
def test_a_change_to_a_told_shift_is_headed_shift_changed_not_on_call(make_page: PageFactory, change: str) -> None:
    """A stand-down headed "ON CALL" said the opposite of its text where only the head shows (an SMS preview, a
    subject cut short)."""
    shift = SHIFT.model_copy(update={"change": change})

    def notice(channel: ContactMethodType, address: str) -> Any:
        return make_page(
            channel, address, kind=PageKind.SHIFT_REMINDER, summary=STOOD_DOWN, shift=shift, severity=Severity.INFO
        )

    assert render_sms(notice(ContactMethodType.SMS, "+15005550006"), Links()).startswith("[SHIFT CHANGED] You are")
    assert subject(notice(ContactMethodType.EMAIL, "a@example.test")).startswith("[SHIFT CHANGED] You are no longer")
    slack = slack_message(notice(ContactMethodType.SLACK, "U0ANNA"), Links(), interactive=True)
    assert slack["blocks"][0]["text"]["text"] == ":calendar: SHIFT CHANGED: Payments primary"
    card = teams_card(notice(ContactMethodType.TEAMS, "https://t.test/hook"), Links())["attachments"][0]["content"]
    assert card["body"][0]["text"] == "SHIFT CHANGED: Payments primary"
