"""Slack Block Kit messages: a page, and the same message after someone acted on it (updated in place).

Everything taken from alerts is escaped for Slack (``&``, ``<``, ``>``), in mrkdwn and in the top-level ``text``
(the notification and screen-reader fallback, which Slack also parses), so an alert cannot mention ``<!channel>``
or disguise a link. Messages stay inside Slack's limits (header 150, section 3000, 10 fields of 2000).
Interactive messages (posted with the bot token) carry buttons whose clicks come back to
``POST /v1/slack/interactions``; others carry link buttons to the acknowledge pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alertrouter_notifier.channels.base import Links
from alertrouter_notifier.rendering.chat import facts, fallback_text, link_actions, title
from alertrouter_notifier.rendering.chat import summary as chat_summary
from alertrouter_notifier.rendering.text import truncate
from alertrouter_shared.events import Page, PageKind

SLACK_HEADER_LIMIT = 150
SLACK_SECTION_LIMIT = 3000
SLACK_FIELD_LIMIT = 2000
SLACK_MAX_FIELDS = 10
ACTION_ACKNOWLEDGE = "alertrouter_acknowledge"
ACTION_RESOLVE = "alertrouter_resolve"

_EMOJI = {
    PageKind.TRIGGER: ":rotating_light:",
    PageKind.ACKNOWLEDGED: ":eyes:",
    PageKind.RESOLVED: ":white_check_mark:",
    PageKind.DIGEST: ":inbox_tray:",
    PageKind.ESCALATED: ":arrow_double_up:",
    PageKind.SHIFT_REMINDER: ":calendar:",
}
_OPEN = (PageKind.TRIGGER, PageKind.ESCALATED)  # the incident still waits for someone to take it


@dataclass(frozen=True)
class Handled:
    """Who changed the incident, shown on the updated message."""

    status: PageKind
    by: str = ""
    via: str = ""
    note: str = ""  # an escalation's "escalated to level 2: dan paged"


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fields(page: Page) -> list[dict[str, str]]:
    return [
        {"type": "mrkdwn", "text": truncate(f"*{slack_escape(name)}:*\n{slack_escape(value)}", SLACK_FIELD_LIMIT)}
        for name, value in facts(page)[:SLACK_MAX_FIELDS]
    ]


def _button(text: str, action_id: str, **extra: str) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id, **extra}


def _interactive_buttons(page: Page, status: PageKind, links: Links) -> list[dict[str, Any]]:
    buttons = []
    if status in _OPEN:
        buttons.append(_button("Acknowledge", ACTION_ACKNOWLEDGE, value=page.incident_id, style="primary"))
    if status in (*_OPEN, PageKind.ACKNOWLEDGED):
        buttons.append(_button("Resolve", ACTION_RESOLVE, value=page.incident_id))
    if links.incident:
        buttons.append(_button("Open incident", "open_incident", url=links.incident))
    if page.runbook_url:
        buttons.append(_button("Runbook", "runbook", url=page.runbook_url))
    return buttons


def _link_buttons(page: Page, links: Links) -> list[dict[str, Any]]:
    buttons = [_button(name, name.lower().replace(" ", "_"), url=url) for name, url in link_actions(page, links)]
    if buttons and links.acknowledge:
        buttons[0]["style"] = "primary"
    return buttons


def slack_message(
    page: Page, links: Links, *, interactive: bool = False, handled: Handled | None = None
) -> dict[str, Any]:
    """The page as a message; ``handled`` renders it as changed by someone (for ``chat.update``)."""
    status = handled.status if handled else page.kind
    shown = page if handled is None else page.model_copy(update={"kind": handled.status})
    header = truncate(f"{_EMOJI[status]} {title(shown)}", SLACK_HEADER_LIMIT)
    summary = truncate(slack_escape(chat_summary(page)), SLACK_SECTION_LIMIT)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": summary}},
        {"type": "section", "fields": _fields(page)},
    ]
    if page.shift is not None:
        buttons: list[dict[str, Any]] = []
    else:
        buttons = _interactive_buttons(page, status, links) if interactive else _link_buttons(page, links)
    if buttons:
        blocks.append({"type": "actions", "block_id": f"incident-{status.value}", "elements": buttons})
    context = f"Incident `{slack_escape(page.incident_id)}` · escalation level {page.escalation_level} · alertrouter"
    if page.shift is not None:
        context = f"Schedule `{slack_escape(page.shift.schedule_id)}` · alertrouter"
    if handled is not None and handled.note:
        context = f"*{slack_escape(handled.note[:1].upper() + handled.note[1:])}* · " + context
    elif handled is not None:
        who = f" by {slack_escape(handled.by)}" if handled.by else ""
        via = f" via {handled.via}" if handled.via else ""
        context = f"*{handled.status.value.capitalize()}*{who}{via} · " + context
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    text = truncate(slack_escape(fallback_text(shown)), 3000)
    return {"text": text, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}
