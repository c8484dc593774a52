"""SMS text: one or two segments, with the severity, service, summary, a short incident reference and the ack link.

The summary is what gets shortened; the reference and the acknowledge link are kept, because a page that
cannot be acted on is worse than a page with a shorter summary. Typographic characters that would force the
whole message into UCS-2 (halving its length) are replaced by their GSM-7 look-alikes first.
"""

from __future__ import annotations

from alertrouter_notifier.channels.base import Links
from alertrouter_notifier.rendering.chat import summary as chat_summary
from alertrouter_notifier.rendering.text import (
    GSM7_MULTI,
    UCS2_MULTI,
    drill_prefix,
    gsm7_septets,
    incident_ref,
    is_gsm7,
    shift_tag,
    truncate,
    ucs2_units,
)
from alertrouter_shared.events import Page, PageKind

MAX_SEGMENTS = 2
_GSM_LOOKALIKES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u2022": "*",
    }
)


_TAGS = {
    PageKind.ACKNOWLEDGED: "ACKED",
    PageKind.RESOLVED: "RESOLVED",
    PageKind.DIGEST: "DIGEST",
    PageKind.ESCALATED: "ESCALATED",
    PageKind.SHIFT_REMINDER: "ON CALL",
}


def _tag(page: Page) -> str:
    return _TAGS.get(page.kind, page.severity.value.upper())


def _head(page: Page) -> str:
    if page.kind is PageKind.DIGEST:  # spans services and incidents: the summary names them
        return "[DIGEST] "
    if page.shift is not None:  # the summary names the schedule and the shift's times
        return f"[{shift_tag(page.shift)}] "
    service = truncate(page.service_name or page.service_id, 40, ellipsis="...")
    count = f" (x{page.alert_count})" if page.alert_count > 1 else ""
    return f"{drill_prefix(page.drill)}[{_tag(page)}] {service}{count}: "


def _tail(page: Page, links: Links, reply_hint: bool, *, link: bool = True) -> str:
    if page.kind is PageKind.DIGEST or page.shift is not None:
        return ""
    tail = f" #{incident_ref(page.incident_id)}"
    if page.kind is PageKind.TRIGGER and reply_hint:
        tail += " Reply 1=ack 4=resolve"
    if page.kind is PageKind.TRIGGER and links.acknowledge and link:
        tail += f" Ack: {links.acknowledge}"
    return tail


def render_sms(page: Page, links: Links, *, reply_hint: bool = False) -> str:
    """``reply_hint`` when the sending number's inbound webhook is ours (two-way SMS, api/sms_replies.py)."""
    head, tail = _head(page), _tail(page, links, reply_hint)
    summary = " ".join(chat_summary(page).translate(_GSM_LOOKALIKES).split())
    if is_gsm7(head + summary + tail):
        budget, cost = GSM7_MULTI * MAX_SEGMENTS, gsm7_septets
    else:
        budget, cost = UCS2_MULTI * MAX_SEGMENTS, ucs2_units
    room = budget - cost(head) - cost(tail)
    if room < 10:  # no room for the link (UCS-2 holds 134 units, a link is about 200): drop it, not the summary
        # nor the reply hint, which is then the only way to answer from the phone (it was dropped with the link)
        tail = _tail(page, links, reply_hint, link=False)
        room = budget - cost(head) - cost(tail)
    return head + truncate(summary, room, ellipsis="...", cost=cost) + tail
