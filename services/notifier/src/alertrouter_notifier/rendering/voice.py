"""What a call says: a short TwiML script that reads the incident and gathers one key press.

Spoken text is short on purpose (a person woken at night needs the service, the severity and what to press), and
alert content is XML-escaped, so a label cannot inject TwiML verbs. The script stays far below Twilio's 4,000
character limit for inline ``Twiml``.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape, quoteattr

from alertrouter_notifier.rendering.text import DRILL_MARK, incident_ref, truncate
from alertrouter_shared.events import Page, PageKind

SUMMARY_LIMIT = 240
KEY_ACKNOWLEDGE = "1"
KEY_ESCALATE = "2"
PROMPT = "Press 1 to acknowledge. Press 2 to escalate now."
_UNSPEAKABLE = re.compile(r"[\x00-\x1f\x7f]+|https?://\S+")


def _speakable(text: str) -> str:
    """Control characters and URLs are noise when read aloud."""
    return " ".join(_UNSPEAKABLE.sub(" ", text).split())


def _sentence(text: str) -> str:
    """``text`` as one sentence: a summary with its own end (a drill's "Please acknowledge.") got a second full
    stop, and the call's text read "Please acknowledge.."."""
    return text if text.endswith((".", "!", "?")) else f"{text}."


def spelled_ref(incident_id: str) -> str:
    """The incident reference one character at a time, as a person would read it out."""
    return " ".join(incident_ref(incident_id))


def announcement(page: Page) -> str:
    service = _speakable(page.service_name or page.service_id)
    summary = truncate(_speakable(page.summary or "no summary"), SUMMARY_LIMIT, ellipsis="...")
    if page.shift is not None:
        return f"This is alertrouter. {_speakable(page.summary)}"
    if page.kind is PageKind.DIGEST:  # about many incidents: it read "The incident for checkout was digest"
        return f"This is alertrouter. {_sentence(summary)}"
    if page.kind is PageKind.TRIGGER:
        head = f"This is alertrouter. {page.severity.value} alert for {service}."
    elif page.status_note:
        head = f"This is alertrouter. The incident for {service} was {_speakable(page.status_note)}."
    else:
        head = f"This is alertrouter. The incident for {service} was {page.kind.value}."
    if page.drill:
        head = head.replace(
            "This is alertrouter.", f"This is alertrouter. This is a {DRILL_MARK.lower()}, not a real incident."
        )
    return f"{head} {_sentence(summary)} Incident {spelled_ref(page.incident_id)}."


def say(text: str) -> str:
    return f"<Say>{escape(text)}</Say>"


def gather(prompt_text: str, action_url: str, seconds: int) -> str:
    """One key press, posted to ``action_url``; if nobody presses, the call says goodbye and ends."""
    return (
        f'<Gather input="dtmf" numDigits="1" method="POST" timeout="{seconds}" action={quoteattr(action_url)}>'
        f'{say(prompt_text)}<Pause length="1"/>{say(prompt_text)}</Gather>'
        f"{say('No key was pressed. Goodbye.')}"
    )


def call_script(page: Page, action_url: str, seconds: int) -> str:
    """The inline TwiML of a call for ``page``: triggers ask for a key, notices are only read."""
    text = announcement(page)
    body = gather(f"{text} {PROMPT}", action_url, seconds) if page.kind is PageKind.TRIGGER else say(text)
    return f"<Response>{body}</Response>"
