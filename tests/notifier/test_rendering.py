"""Rendering: SMS within two segments (GSM-7 and UCS-2), no split characters, secrets redacted, chat limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import orjson
import pytest

from alertrouter_notifier.channels.base import Links
from alertrouter_notifier.links import LinkBuilder
from alertrouter_notifier.rendering.chat import teams_card
from alertrouter_notifier.rendering.email import build_email, subject, thread_root_id
from alertrouter_notifier.rendering.slack import slack_message
from alertrouter_notifier.rendering.sms import render_sms
from alertrouter_notifier.rendering.text import (
    MASKED,
    graphemes,
    is_gsm7,
    mask_secret_labels,
    sms_segments,
    truncate,
    ucs2_units,
)
from alertrouter_notifier.rendering.voice import announcement, spelled_ref
from alertrouter_shared.events import ContactMethodType, PageKind
from alertrouter_shared.redaction import redact
from tests.notifier.conftest import PageFactory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LINKS = Links(acknowledge="https://n.example/acknowledge/tok.mac", resolve="https://n.example/resolve/tok.mac")


def test_sms_fits_two_gsm7_segments_and_keeps_reference_and_link(make_page: PageFactory) -> None:
    page = make_page(ContactMethodType.SMS, "+447700900123", summary="disk full " * 80)
    text = render_sms(page, LINKS)
    assert is_gsm7(text)
    assert sms_segments(text) <= 2
    assert text.startswith("[CRITICAL] checkout: disk full")
    assert f"#{page.incident_id.replace('-', '')[:8]}" in text
    assert text.endswith(f"Ack: {LINKS.acknowledge}")
    assert "..." in text


def test_sms_with_emoji_is_ucs2_and_never_splits_a_character(make_page: PageFactory) -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one visible character, five code points
    page = make_page(ContactMethodType.SMS, "+447700900123", summary=f"{family} payments down " * 40)
    text = render_sms(page, Links())
    assert not is_gsm7(text)
    assert sms_segments(text) <= 2
    assert ucs2_units(text) <= 134
    leftovers = text.replace(family, "")
    assert not any(c in leftovers for c in ("\u200d", "\U0001f468", "\U0001f469", "\U0001f467"))
    assert text.count(family) >= 1


@pytest.mark.parametrize("summary", ["Диск заполнен на db-1", "磁盘已满 db-1", "Disk full \U0001f525 on db-1"])
def test_an_sms_in_ucs2_without_room_for_the_link_keeps_the_reply_hint(make_page: PageFactory, summary: str) -> None:
    """Two UCS-2 segments (134 units) cannot hold a real acknowledge link (about 200 characters), so the link is
    left out; the reply hint went with it, and a page in Cyrillic, Chinese or with one emoji told the person no way
    to answer it from the phone."""
    page = make_page(ContactMethodType.SMS, "+447700900123", summary=summary)
    links = LinkBuilder("https://oncall-notifier.example.com", "secret", timedelta(days=1)).for_page(
        page, datetime.now(UTC)
    )
    text = render_sms(page, links, reply_hint=True)
    assert not is_gsm7(text) and sms_segments(text) <= 2
    assert summary in text
    assert text.endswith(f"#{page.incident_id.replace('-', '')[:8]} Reply 1=ack 4=resolve"), text


def test_typographic_quotes_do_not_force_ucs2(make_page: PageFactory) -> None:
    page = make_page(ContactMethodType.SMS, "+447700900123", summary="\u201cquoted\u201d \u2013 it\u2019s down\u2026")
    text = render_sms(page, Links())
    assert is_gsm7(text)
    assert '"quoted" - it\'s down...' in text


def test_gsm7_extension_characters_cost_two_septets() -> None:
    assert sms_segments("a" * 160) == 1
    assert sms_segments("{" * 80) == 1
    assert sms_segments("{" * 81) == 2
    assert sms_segments("\u00e9" * 160) == 1  # é is in the GSM-7 basic set
    assert sms_segments("\u0107" * 70) == 1  # ć is not: UCS-2
    assert sms_segments("\u0107" * 71) == 2


def test_truncate_keeps_combining_marks_with_their_base() -> None:
    text = "e\u0301" * 10  # é as e + combining acute
    cut = truncate(text, 7, ellipsis="~")
    assert cut.endswith("~")
    body = cut[:-1]
    assert len(body) % 2 == 0 and all(body[i + 1] == "\u0301" for i in range(0, len(body), 2))


def test_flags_are_not_split() -> None:
    flags = "\U0001f1ec\U0001f1e7\U0001f1eb\U0001f1f7"  # GB FR
    assert list(graphemes(flags)) == ["\U0001f1ec\U0001f1e7", "\U0001f1eb\U0001f1f7"]


def test_secret_labels_are_redacted_and_long_values_truncated() -> None:
    labels = {"db_password": "hunter2", "Authorization": "Bearer abc", "note": "x" * 500, "hook": "xoxb-123-456"}
    shaped = mask_secret_labels(labels, value_limit=50)
    assert shaped["db_password"] == MASKED
    assert shaped["Authorization"] == MASKED
    assert shaped["hook"] == MASKED
    assert len(shaped["note"]) == 50 and shaped["note"].endswith("\u2026")


def test_email_has_both_parts_threading_and_links(make_page: PageFactory) -> None:
    page = make_page(ContactMethodType.EMAIL, "alice@example.test")
    message = build_email(page, LINKS, delivery_id="d1", sender="alerts@example.test", domain="example.test")
    parsed = message_from_bytes(bytes(message), policy=policy.default)
    assert parsed["Message-ID"] == "<d1@example.test>"
    assert parsed["In-Reply-To"] == thread_root_id(page.incident_id, "example.test")
    assert parsed["References"] == parsed["In-Reply-To"]
    assert parsed["Subject"].startswith("[CRITICAL] checkout: 5xx ratio")
    text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert LINKS.acknowledge in text and LINKS.resolve in text
    assert f'href="{LINKS.acknowledge}"' in html
    assert "s3cr3t-value" not in text and "s3cr3t-value" not in html


def test_email_subject_is_bounded_and_tagged_by_kind(make_page: PageFactory) -> None:
    page = make_page(ContactMethodType.EMAIL, "a@example.test", summary="z" * 1000, kind=PageKind.RESOLVED)
    assert subject(page).startswith("[RESOLVED] ")
    assert len(subject(page)) <= 150


def test_slack_message_matches_fixture_shape_and_limits(make_page: PageFactory) -> None:
    fixture = json.loads((FIXTURES / "slack" / "chat-postMessage-request.json").read_text())
    page = make_page(
        ContactMethodType.SLACK, "U1", summary="<b>&" + "y" * 5000, labels={f"l{i}": "v" for i in range(30)}
    )
    message = slack_message(page, LINKS)
    assert set(fixture) - {"channel"} <= set(message)
    assert [b["type"] for b in message["blocks"]][:1] == ["header"]
    assert len(message["blocks"]) <= 50
    header = message["blocks"][0]["text"]["text"]
    assert len(header) <= 150
    sections = [b for b in message["blocks"] if b["type"] == "section"]
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in sections)
    assert all(len(b.get("fields", [])) <= 10 for b in sections)
    assert "&lt;b&gt;&amp;" in sections[0]["text"]["text"]
    buttons = next(b for b in message["blocks"] if b["type"] == "actions")["elements"]
    assert [b["url"] for b in buttons][:2] == [LINKS.acknowledge, LINKS.resolve]


def test_teams_card_matches_workflow_envelope(make_page: PageFactory) -> None:
    fixture = json.loads((FIXTURES / "teams" / "workflow-adaptive-card-request.json").read_text())
    page = make_page(ContactMethodType.TEAMS, "https://example.test/wf", labels={f"k{i}": "v" * 99 for i in range(600)})
    envelope = teams_card(page, LINKS)
    assert envelope["type"] == fixture["type"]
    attachment = envelope["attachments"][0]
    assert attachment["contentType"] == fixture["attachments"][0]["contentType"]
    assert attachment["content"]["type"] == "AdaptiveCard"
    assert attachment["content"]["version"] == "1.4"
    assert {a["type"] for a in attachment["content"]["actions"]} == {"Action.OpenUrl"}
    assert len(orjson.dumps(envelope)) <= 28 * 1024


@pytest.mark.parametrize("kind", list(PageKind))
def test_every_kind_renders_on_every_channel(make_page: PageFactory, kind: PageKind) -> None:
    page = make_page(ContactMethodType.SMS, "+447700900123", kind=kind)
    assert render_sms(page, LINKS)
    assert slack_message(page, LINKS)["blocks"]
    assert teams_card(page, LINKS)["attachments"]
    assert subject(page)


def test_a_digest_call_says_what_was_held_back_not_one_incident(make_page: PageFactory) -> None:
    """It read "The incident for checkout was digest. 7 more alerts … Incident i n c …", naming one held incident."""
    held = "7 more alerts for checkout since 09:12 UTC (held back by flood protection)"
    page = make_page(ContactMethodType.VOICE, "+447700900123", kind=PageKind.DIGEST, summary=held)
    assert announcement(page) == f"This is alertrouter. {held}."


@pytest.mark.parametrize(
    ("summary", "said"),
    [
        ("Payments drill. Please acknowledge.", "Payments drill. Please acknowledge."),
        ("Is checkout down?", "Is checkout down?"),
        ("5xx ratio is 7.3%", "5xx ratio is 7.3%."),
    ],
)
def test_a_call_ends_a_summary_with_one_full_stop(make_page: PageFactory, summary: str, said: str) -> None:
    """A full stop went after every summary: a drill's summary, which ends "Please acknowledge.", became "..".
    Summaries with their own end keep it; others get one."""
    page = make_page(ContactMethodType.VOICE, "+447700900123", summary=summary)
    assert (
        announcement(page)
        == f"This is alertrouter. critical alert for checkout. {said} Incident {spelled_ref(page.incident_id)}."
    )
    digest = make_page(ContactMethodType.VOICE, "+447700900123", kind=PageKind.DIGEST, summary=summary)
    assert announcement(digest) == f"This is alertrouter. {said}"


HOSTILE_SUMMARY = "<!channel> disk full & <https://evil.example|Acknowledge here> **now** [click](https://evil.example)"
HOSTILE_LABELS = {"owner": "<!here>", "note": "<https://evil.example|Resolve>", "md": "[click](https://evil.example)"}


def test_slack_escapes_alert_content_everywhere_it_is_parsed(make_page: PageFactory) -> None:
    page = make_page(ContactMethodType.SLACK, "C0HOSTILE", summary=HOSTILE_SUMMARY, labels=HOSTILE_LABELS)
    for message in (slack_message(page, LINKS), slack_message(page, Links(), interactive=True)):
        dumped = orjson.dumps(message).decode()
        assert "<!channel>" not in dumped and "<!here>" not in dumped
        assert "<https://evil.example|" not in dumped
        assert message["text"].startswith("CRITICAL: checkout - &lt;!channel&gt; disk full &amp; &lt;https://evil")
        section = message["blocks"][1]["text"]["text"]
        assert section.startswith("&lt;!channel&gt; disk full &amp; &lt;https://evil.example|Acknowledge here&gt;")
        fields = " ".join(f["text"] for f in message["blocks"][2]["fields"])
        assert "&lt;!here&gt;" in fields and "&lt;https://evil.example|Resolve&gt;" in fields
        buttons = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert all("evil" not in str(button) for button in buttons)


def test_teams_never_renders_alert_content_as_markdown(make_page: PageFactory) -> None:
    page = make_page(
        ContactMethodType.TEAMS,
        "https://example.test/wf",
        summary=HOSTILE_SUMMARY,
        labels=HOSTILE_LABELS,
        service_name="[svc](https://evil.example)",
    )
    card = teams_card(page, LINKS)["attachments"][0]["content"]

    def elements(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        found = []
        for item in items:
            found.append(item)
            found += elements(item.get("items", []))
        return found

    every = elements(card["body"])
    markdown_texts = [e["text"] for e in every if e["type"] == "TextBlock"]
    assert all("](https://evil" not in text and "**" not in text for text in markdown_texts)
    assert markdown_texts[0] == "CRITICAL: \\[svc\\]\\(https://evil\\.example\\)"
    runs = [run["text"] for e in every if e["type"] == "RichTextBlock" for run in e["inlines"]]
    assert HOSTILE_SUMMARY in runs  # shown as typed: TextRuns are never parsed as markdown
    assert "[click](https://evil.example)" in runs
    assert {a["url"] for a in card["actions"]} == {LINKS.acknowledge, LINKS.resolve, page.runbook_url}


def test_redact_masks_phone_numbers_and_email_addresses() -> None:
    twilio = "twilio: HTTP 400 code 21211: The 'To' number +44 7700 900123 is not a valid phone number."
    assert redact(twilio) == "twilio: HTTP 400 code 21211: The 'To' number +********0123 is not a valid phone number."
    smtp = "smtp: 550 5.1.1 <bob.smith@example.com>: Recipient address rejected"
    assert redact(smtp) == "smtp: 550 5.1.1 <b***@example.com>: Recipient address rejected"
    assert redact("call 07700900123 at 2026-12-04T10:00:00, code 30003") == (
        "call *******0123 at 2026-12-04T10:00:00, code 30003"
    )
    # a number as a person typed it, quoted back by Twilio: each grouping was left whole before
    for typed in ("+1 (555) 123-4567", "(555) 123-4567", "+1 - 555 - 123 - 4567", "555.123.4567"):
        masked = redact(f"The 'To' number {typed} is not a valid phone number.")
        assert "123" not in masked and masked.endswith("4567 is not a valid phone number."), masked
