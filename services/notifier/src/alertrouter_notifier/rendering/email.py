"""Email: a subject and text + HTML bodies with the incident's facts and links, threaded per incident.

Every message of one incident carries ``In-Reply-To``/``References`` pointing at the same synthetic root id
(``<incident.ID@domain>``), so mail clients show one thread per incident. ``Message-ID`` is stable per delivery
(not per attempt): if a retry duplicates a message, clients that dedupe by Message-ID show it once.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from html import escape

from alertrouter_notifier.channels.base import Links
from alertrouter_notifier.rendering.chat import STATUS, link_actions
from alertrouter_notifier.rendering.chat import facts as chat_facts
from alertrouter_notifier.rendering.chat import summary as chat_summary
from alertrouter_notifier.rendering.text import (
    DRILL_MARK,
    drill_prefix,
    incident_ref,
    mask_secret_labels,
    shift_tag,
    truncate,
)
from alertrouter_shared.events import Page, PageKind

SUBJECT_LIMIT = 150
LABEL_VALUE_LIMIT = 200
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def thread_root_id(incident_id: str, domain: str) -> str:
    return f"<incident.{_ID_UNSAFE.sub('_', incident_id)}@{domain}>"


def message_id(delivery_id: str, domain: str) -> str:
    return f"<{_ID_UNSAFE.sub('_', delivery_id)}@{domain}>"


def subject(page: Page) -> str:
    if page.shift is not None:
        return truncate(f"[{shift_tag(page.shift)}] {' '.join(page.summary.split())}", SUBJECT_LIMIT)
    service = page.service_name or page.service_id
    base = f"{service}: {chat_summary(page)}"
    tag = page.severity.value.upper() if page.kind is PageKind.TRIGGER else STATUS[page.kind]
    suffix = f" (#{incident_ref(page.incident_id)})"
    head = f"{drill_prefix(page.drill)}[{tag}] "
    return head + truncate(" ".join(base.split()), SUBJECT_LIMIT - len(head) - len(suffix)) + suffix


def facts(page: Page) -> list[tuple[str, str]]:
    if page.shift is not None:
        return chat_facts(page)
    rows = [
        ("Service", page.service_name or page.service_id),
        ("Severity", page.severity.value),
        ("Team", page.team_id),
        ("Escalation level", str(page.escalation_level)),
        ("Alerts", str(page.alert_count)),
        ("Incident", page.incident_id),
    ]
    rows += [
        (f"Label {key}", value) for key, value in mask_secret_labels(page.labels, value_limit=LABEL_VALUE_LIMIT).items()
    ]
    return rows


def _drill_notice(page: Page) -> str:
    return (
        f"{DRILL_MARK}: this is a rehearsal, not a real incident. Please respond as you would for real."
        if page.drill
        else ""
    )


def text_body(page: Page, links: Links) -> str:
    lines = [_drill_notice(page), ""] if page.drill else []
    lines += [chat_summary(page), ""]
    lines += [f"{name}: {value}" for name, value in facts(page)]
    actions = link_actions(page, links)
    if actions:
        lines.append("")
        lines += [f"{name}: {url}" for name, url in actions]
    lines += ["", "-- ", "alertrouter notifier"]
    return "\n".join(lines) + "\n"


def html_body(page: Page, links: Links) -> str:
    rows = "".join(
        f"<tr><th align=left style='padding:2px 12px 2px 0'>{escape(name)}</th><td>{escape(value)}</td></tr>"
        for name, value in facts(page)
    )
    buttons = " ".join(
        f'<a href="{escape(url, quote=True)}" style=\'display:inline-block;padding:8px 14px;margin-right:8px;'
        f"background:#1f6feb;color:#fff;text-decoration:none;border-radius:4px'>{escape(name)}</a>"
        for name, url in link_actions(page, links)
    )
    return (
        "<!doctype html><html><body style='font-family:sans-serif'>"
        f"<h2>{escape(subject(page))}</h2>"
        + (f"<p><strong>{escape(_drill_notice(page))}</strong></p>" if page.drill else "")
        + f"<p>{escape(chat_summary(page))}</p>"
        f"<table>{rows}</table><p>{buttons}</p></body></html>"
    )


def build_email(
    page: Page, links: Links, *, delivery_id: str, sender: str, domain: str, sender_name: str = "alertrouter"
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((sender_name, sender))
    message["To"] = page.contact_method.address
    message["Subject"] = subject(page)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id(delivery_id, domain)
    root = thread_root_id(page.incident_id, domain)
    message["In-Reply-To"] = root
    message["References"] = root
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Alertrouter-Incident"] = page.incident_id
    message["X-Alertrouter-Page"] = page.page_id
    message.set_content(text_body(page, links))
    message.add_alternative(html_body(page, links), subtype="html")
    return message
