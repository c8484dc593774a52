"""Chat messages: what Slack and Teams messages share (title, facts, link actions) and the Teams Adaptive Card.

The Teams card stays inside 28 KB per message, truncating on character boundaries with secrets redacted. Alert
content never reaches Teams' markdown: the summary and the labels are ``RichTextBlock`` text runs (rendered
verbatim), and the few ``TextBlock`` texts have markdown characters escaped, so ``[click](https://evil)`` in a
label shows as typed instead of as a link. Slack messages are in rendering/slack.py.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from alertrouter_notifier.channels.base import Links
from alertrouter_notifier.rendering.text import drill_prefix, incident_ref, mask_secret_labels, shift_tag, truncate
from alertrouter_shared.events import Page, PageKind, Severity

LABEL_VALUE_LIMIT = 100
STATUS = {  # the word a message's title starts with, by page kind (a trigger shows its severity instead)
    PageKind.ACKNOWLEDGED: "ACKNOWLEDGED",
    PageKind.RESOLVED: "RESOLVED",
    PageKind.DIGEST: "DIGEST",
    PageKind.ESCALATED: "ESCALATED",
    PageKind.SHIFT_REMINDER: "ON CALL",
}
TEAMS_MAX_BYTES = 27 * 1024
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<])")


def title(page: Page) -> str:
    if page.shift is not None:
        return f"{shift_tag(page.shift)}: {page.shift.schedule_name or page.shift.schedule_id}"
    status = page.severity.value.upper() if page.kind is PageKind.TRIGGER else STATUS[page.kind]
    return f"{drill_prefix(page.drill)}{status}: {page.service_name or page.service_id}"


def summary(page: Page) -> str:
    """What the message says first: the summary, after the status update's note when there is one."""
    text = page.summary or "(no summary)"
    return f"{page.status_note[:1].upper()}{page.status_note[1:]}. {text}" if page.status_note else text


def fallback_text(page: Page) -> str:
    if page.shift is not None:
        return f"{title(page)} - {page.summary}"
    return f"{title(page)} - {summary(page)} (#{incident_ref(page.incident_id)})"


def facts(page: Page) -> list[tuple[str, str]]:
    if page.shift is not None:
        return [("Schedule", page.shift.schedule_name or page.shift.schedule_id), ("Time zone", page.shift.time_zone)]
    rows = [
        ("Service", page.service_name or page.service_id),
        ("Severity", page.severity.value),
        ("Team", page.team_id),
        ("Level", str(page.escalation_level)),
    ]
    rows += list(mask_secret_labels(page.labels, value_limit=LABEL_VALUE_LIMIT).items())
    return rows


def footer(page: Page) -> str:
    return f"Schedule {page.shift.schedule_id}" if page.shift is not None else f"Incident {page.incident_id}"


def link_actions(page: Page, links: Links) -> list[tuple[str, str]]:
    if page.shift is not None:
        return []  # a reminder has nothing to act on
    actions = [
        ("Acknowledge", links.acknowledge),
        ("Resolve", links.resolve),
        ("Open incident", links.incident),
        ("Runbook", page.runbook_url or ""),
    ]
    return [(name, url) for name, url in actions if url]


def teams_escape(text: str) -> str:
    """Backslash-escape markdown characters (for TextBlocks, which always parse markdown)."""
    return _MARKDOWN.sub(r"\\\1", text)


def _verbatim(text: str, **style: Any) -> dict[str, Any]:
    """A RichTextBlock: its TextRuns are never parsed as markdown."""
    return {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text, **style}]}


def _fact(name: str, value: str) -> dict[str, Any]:
    runs = [{"type": "TextRun", "text": f"{name}: ", "weight": "Bolder"}, {"type": "TextRun", "text": value}]
    return {"type": "RichTextBlock", "inlines": runs, "spacing": "None"}


def _teams_color(page: Page) -> str:
    if page.kind in (PageKind.RESOLVED, PageKind.SHIFT_REMINDER):
        return "Good"
    if page.kind in (PageKind.TRIGGER, PageKind.ESCALATED) and page.severity in (Severity.CRITICAL, Severity.ERROR):
        return "Attention"
    return "Warning"


def teams_card(page: Page, links: Links) -> dict[str, Any]:
    """The Workflows envelope (also accepted by legacy connectors) around an Adaptive Card 1.4."""
    rows = [_fact(name, value) for name, value in facts(page)]
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "size": "Large",
            "weight": "Bolder",
            "color": _teams_color(page),
            "text": teams_escape(title(page)),
            "wrap": True,
        },
        _verbatim(truncate(summary(page), 2000)),
        {"type": "Container", "items": rows},
        _verbatim(footer(page), isSubtle=True, size="Small"),
    ]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": name, "url": url} for name, url in link_actions(page, links)],
    }
    envelope = {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
    while len(orjson.dumps(envelope)) > TEAMS_MAX_BYTES and len(rows) > 4:
        rows.pop()  # labels go first; the core facts and the actions always stay
    return envelope
