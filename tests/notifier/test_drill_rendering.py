"""Every message of a drill says DRILL, on every channel and for every kind of page; a real page never does."""

from __future__ import annotations

from email import message_from_bytes, policy

import orjson
import pytest

from alertrouter_notifier.channels.base import Links, Outgoing
from alertrouter_notifier.rendering.chat import teams_card
from alertrouter_notifier.rendering.email import build_email
from alertrouter_notifier.rendering.slack import slack_message
from alertrouter_notifier.rendering.sms import render_sms
from alertrouter_notifier.rendering.voice import call_script
from alertrouter_notifier.rendering.webhook import webhook_body
from alertrouter_shared.events import ContactMethodType, PageKind
from tests.notifier.conftest import PageFactory

LINKS = Links(acknowledge="https://n.example/acknowledge/tok.mac", resolve="https://n.example/resolve/tok.mac")
KINDS = [PageKind.TRIGGER, PageKind.ACKNOWLEDGED, PageKind.RESOLVED]


@pytest.mark.parametrize("kind", KINDS)
def test_sms_of_a_drill_starts_with_drill_and_still_fits(make_page: PageFactory, kind: PageKind) -> None:
    text = render_sms(
        make_page(ContactMethodType.SMS, "+447700900123", kind=kind, drill=True, summary="z" * 900), LINKS
    )
    assert text.startswith("[DRILL] [")
    assert len(text) <= 2 * 153
    assert not render_sms(make_page(ContactMethodType.SMS, "+447700900123", kind=kind), LINKS).startswith("[DRILL]")


@pytest.mark.parametrize("kind", KINDS)
def test_a_call_of_a_drill_says_it_is_a_drill(make_page: PageFactory, kind: PageKind) -> None:
    script = call_script(make_page(ContactMethodType.VOICE, "+447700900123", kind=kind, drill=True), "https://a/x", 8)
    assert "This is alertrouter. This is a drill, not a real incident." in script
    real = call_script(make_page(ContactMethodType.VOICE, "+447700900123", kind=kind), "https://a/x", 8)
    assert "drill" not in real


def test_email_of_a_drill_is_marked_in_subject_and_both_bodies(make_page: PageFactory) -> None:
    page = make_page(ContactMethodType.EMAIL, "alice@example.test", drill=True, summary="y" * 400)
    message = build_email(page, LINKS, delivery_id="d1", sender="alerts@example.test", domain="example.test")
    parsed = message_from_bytes(bytes(message), policy=policy.default)
    assert parsed["Subject"].startswith("[DRILL] [CRITICAL] checkout: ")
    assert len(parsed["Subject"]) <= 150
    text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("DRILL: this is a rehearsal, not a real incident.")
    assert "<strong>DRILL: this is a rehearsal" in html
    real = build_email(
        make_page(ContactMethodType.EMAIL, "a@example.test"),
        LINKS,
        delivery_id="d2",
        sender="alerts@example.test",
        domain="example.test",
    )
    assert "DRILL" not in bytes(real).decode()


def test_chat_messages_of_a_drill_are_titled_drill(make_page: PageFactory) -> None:
    slack = slack_message(make_page(ContactMethodType.SLACK, "U1", drill=True), LINKS)
    assert slack["blocks"][0]["text"]["text"] == ":rotating_light: [DRILL] CRITICAL: checkout"
    assert slack["text"].startswith("[DRILL] CRITICAL: checkout - ")
    card = teams_card(make_page(ContactMethodType.TEAMS, "https://example.test/wf", drill=True), LINKS)
    title = card["attachments"][0]["content"]["body"][0]["text"]
    assert title.startswith("\\[DRILL\\] CRITICAL: checkout")  # a TextBlock: markdown characters escaped
    plain = slack_message(make_page(ContactMethodType.SLACK, "U1"), LINKS)
    assert "DRILL" not in orjson.dumps(plain).decode()


def test_webhook_body_of_a_drill_says_so_in_text_and_field(make_page: PageFactory) -> None:
    page = make_page(ContactMethodType.WEBHOOK, "https://hooks.example.test/x", drill=True)
    body = orjson.loads(webhook_body(Outgoing("d1", 1, page, LINKS)))
    assert body["drill"] is True and body["page"]["drill"] is True
    assert body["text"].startswith("[DRILL] [CRITICAL] checkout: ")
    real = orjson.loads(
        webhook_body(Outgoing("d2", 1, make_page(ContactMethodType.WEBHOOK, "https://h.test/x"), LINKS))
    )
    assert real["drill"] is False and not real["text"].startswith("[DRILL]")
