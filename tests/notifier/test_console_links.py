"""Every message about an incident links to it in the router's web console (``NOTIFIER_CONSOLE_URL``): email,
Slack (link buttons, interactive buttons, and a message updated after the incident changed), Teams and the
webhook body; SMS and calls do not (no room, no screen). Without the setting there is no such link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

import orjson
import pytest

from alertrouter_notifier.channels.base import Links, Outgoing
from alertrouter_notifier.links import LinkBuilder, console_link
from alertrouter_notifier.rendering.chat import teams_card
from alertrouter_notifier.rendering.email import build_email
from alertrouter_notifier.rendering.slack import Handled, slack_message
from alertrouter_notifier.rendering.sms import render_sms
from alertrouter_notifier.rendering.webhook import webhook_body
from alertrouter_shared.events import ContactMethodType, PageKind
from tests.notifier.conftest import PageFactory

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
CONSOLE = "https://oncall.example.test/"  # a trailing slash is not doubled


def builder(console_url: str = CONSOLE, secret: str = "s") -> LinkBuilder:
    return LinkBuilder("https://notify.example.test", secret, timedelta(hours=1), console_url)


@pytest.mark.parametrize(
    ("kind", "acknowledge", "resolve", "incident"),
    [
        (PageKind.TRIGGER, True, True, True),
        (PageKind.ESCALATED, True, True, True),
        (PageKind.ACKNOWLEDGED, False, True, True),
        (PageKind.RESOLVED, False, False, True),
        (PageKind.DIGEST, False, False, False),  # about several incidents
    ],
)
def test_which_pages_link_where(
    make_page: PageFactory, kind: PageKind, acknowledge: bool, resolve: bool, incident: bool
) -> None:
    page = make_page(ContactMethodType.EMAIL, "a@example.test", kind=kind, incident_id="inc/1 x")
    links = builder().for_page(page, NOW)
    assert (bool(links.acknowledge), bool(links.resolve), bool(links.incident)) == (acknowledge, resolve, incident)
    if incident:
        assert links.incident == "https://oncall.example.test/ui/incidents/inc%2F1%20x"


def test_no_console_url_no_link_and_the_link_needs_no_signing_secret(make_page: PageFactory) -> None:
    page = make_page(ContactMethodType.EMAIL, "a@example.test")
    assert builder(console_url="").for_page(page, NOW).incident == ""
    unsigned = builder(secret="").for_page(page, NOW)
    assert (unsigned.acknowledge, unsigned.incident) == ("", console_link(CONSOLE, page.incident_id))


def _buttons(message: dict[str, Any]) -> dict[str, str]:
    actions = next(b for b in message["blocks"] if b["type"] == "actions")["elements"]
    return {b["text"]["text"]: b.get("url", "") for b in actions}


def test_each_channel_shows_the_link(make_page: PageFactory) -> None:
    page = make_page(ContactMethodType.EMAIL, "a@example.test")
    links = builder().for_page(page, NOW)
    url = links.incident
    message = build_email(page, links, delivery_id="d1", sender="alerts@example.test", domain="example.test")
    parsed = message_from_bytes(bytes(message), policy=policy.default)
    assert f"Open incident: {url}" in parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f'href="{url}"' in parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert _buttons(slack_message(page, links))["Open incident"] == url
    interactive = _buttons(slack_message(page, links, interactive=True))
    assert list(interactive)[:3] == ["Acknowledge", "Resolve", "Open incident"] and interactive["Open incident"] == url
    updated = slack_message(page, Links(incident=url), interactive=True, handled=Handled(PageKind.RESOLVED, "bob"))
    assert _buttons(updated)["Open incident"] == url  # the buttons to act are gone, the way to look is not
    card = teams_card(page, links)["attachments"][0]["content"]
    assert {"type": "Action.OpenUrl", "title": "Open incident", "url": url} in card["actions"]
    body = orjson.loads(webhook_body(Outgoing("d1", 1, page, links)))
    assert body["links"]["incident"] == url
    assert url not in render_sms(page, links)  # an SMS keeps its room for the summary and the ack link
