"""Chat messages: a Slack Block Kit message and a Teams Adaptive Card, with the same facts and link buttons.

Both stay inside the platforms' documented limits (Slack: header 150, section text 3000, 10 fields of 2000;
Teams: 28 KB per message), truncating on character boundaries with secrets redacted.
"""

from __future__ import annotations

from typing import Any

import orjson

from alertrouter_notifier.channels.base import Links
from alertrouter_notifier.rendering.text import incident_ref, mask_secret_labels, truncate
from alertrouter_shared.events import Page, PageKind, Severity

SLACK_HEADER_LIMIT = 150
SLACK_SECTION_LIMIT = 3000
SLACK_FIELD_LIMIT = 2000
SLACK_MAX_FIELDS = 10
LABEL_VALUE_LIMIT = 100
TEAMS_MAX_BYTES = 27 * 1024

_EMOJI = {
    PageKind.TRIGGER: ":rotating_light:",
    PageKind.ACKNOWLEDGED: ":eyes:",
    PageKind.RESOLVED: ":white_check_mark:",
    PageKind.DIGEST: ":inbox_tray:",
}


def title(page: Page) -> str:
    status = {
        PageKind.TRIGGER: page.severity.value.upper(),
        PageKind.ACKNOWLEDGED: "ACKNOWLEDGED",
        PageKind.RESOLVED: "RESOLVED",
        PageKind.DIGEST: "DIGEST",
    }[page.kind]
    return f"{status}: {page.service_name or page.service_id}"


def fallback_text(page: Page) -> str:
    return f"{title(page)} - {page.summary or '(no summary)'} (#{incident_ref(page.incident_id)})"


def _facts(page: Page) -> list[tuple[str, str]]:
    rows = [
        ("Service", page.service_name or page.service_id),
        ("Severity", page.severity.value),
        ("Team", page.team_id),
        ("Level", str(page.escalation_level)),
    ]
    rows += list(mask_secret_labels(page.labels, value_limit=LABEL_VALUE_LIMIT).items())
    return rows


def _actions(page: Page, links: Links) -> list[tuple[str, str]]:
    actions = [("Acknowledge", links.acknowledge), ("Resolve", links.resolve), ("Runbook", page.runbook_url or "")]
    return [(name, url) for name, url in actions if url]


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(page: Page, links: Links) -> dict[str, Any]:
    header = truncate(f"{_EMOJI[page.kind]} {title(page)}", SLACK_HEADER_LIMIT)
    fields = [
        {"type": "mrkdwn", "text": truncate(f"*{slack_escape(name)}:*\n{slack_escape(value)}", SLACK_FIELD_LIMIT)}
        for name, value in _facts(page)[:SLACK_MAX_FIELDS]
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": truncate(slack_escape(page.summary or "(no summary)"), SLACK_SECTION_LIMIT),
            },
        },
        {"type": "section", "fields": fields},
    ]
    actions = _actions(page, links)
    if actions:
        elements = [
            {"type": "button", "text": {"type": "plain_text", "text": name}, "url": url, "action_id": name.lower()}
            for name, url in actions
        ]
        if links.acknowledge:
            elements[0]["style"] = "primary"
        blocks.append({"type": "actions", "elements": elements})
    context = f"Incident `{slack_escape(page.incident_id)}` · escalation level {page.escalation_level} · alertrouter"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": truncate(fallback_text(page), 3000), "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def _teams_color(page: Page) -> str:
    if page.kind is PageKind.RESOLVED:
        return "Good"
    if page.kind is PageKind.TRIGGER and page.severity in (Severity.CRITICAL, Severity.ERROR):
        return "Attention"
    return "Warning"


def teams_card(page: Page, links: Links) -> dict[str, Any]:
    """The Workflows envelope (also accepted by legacy connectors) around an Adaptive Card 1.4."""
    facts = [{"title": name, "value": value} for name, value in _facts(page)]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": [
            {
                "type": "TextBlock",
                "size": "Large",
                "weight": "Bolder",
                "color": _teams_color(page),
                "text": title(page),
                "wrap": True,
            },
            {"type": "TextBlock", "text": truncate(page.summary or "(no summary)", 2000), "wrap": True},
            {"type": "FactSet", "facts": facts},
            {
                "type": "TextBlock",
                "text": f"Incident {page.incident_id}",
                "isSubtle": True,
                "size": "Small",
                "wrap": True,
            },
        ],
        "actions": [{"type": "Action.OpenUrl", "title": name, "url": url} for name, url in _actions(page, links)],
    }
    envelope = {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
    while len(orjson.dumps(envelope)) > TEAMS_MAX_BYTES and len(facts) > 4:
        facts.pop()  # labels go first; the core facts and the actions always stay
    return envelope
