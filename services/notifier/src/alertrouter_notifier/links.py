"""Builds the links rendered into every message: acknowledge/resolve (served by the notifier, see api/ack_pages) and
the incident's page in the router's web console; and the notifier's URLs handed to Twilio for its callbacks."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

from alertrouter_notifier.ack_tokens import LinkAction, issue
from alertrouter_notifier.channels.base import Links
from alertrouter_shared.events import Page, PageKind

TWILIO_STATUS_PATH = "/v1/twilio/status"
TWILIO_VOICE_STATUS_PATH = "/v1/twilio/voice/status"
TWILIO_GATHER_PATH = "/v1/twilio/voice/gather"
# The query parameter naming the delivery a call was placed for, in the callback URLs that call carries (its key
# presses and its status). Twilio signs the URL with its query, so it cannot be changed. A call whose creation
# Twilio answered after our timeout is placed again, and only the later call's CallSid is recorded: the earlier
# call's callbacks are known by this parameter instead.
CALL_DELIVERY_PARAM = "delivery"


def public_url(public_base: str, path: str) -> str:
    """The URL Twilio calls (and signs): behind a proxy it differs from the one this process sees."""
    return public_base.rstrip("/") + path


def for_delivery(url: str, delivery_id: str) -> str:
    """``url`` naming the delivery it is a callback of (``?delivery=<id>``)."""
    return url + ("&" if "?" in url else "?") + urlencode({CALL_DELIVERY_PARAM: delivery_id})


def console_link(console_url: str, incident_id: str) -> str:
    """The incident's page in the router's web console; empty without a console URL."""
    base = console_url.rstrip("/")
    return f"{base}/ui/incidents/{quote(incident_id, safe='')}" if base else ""


class LinkBuilder:
    def __init__(self, public_url: str, secret: str, ttl: timedelta, console_url: str = "") -> None:
        self._base = public_url.rstrip("/")
        self._secret = secret
        self._ttl = ttl
        self._console = console_url

    @property
    def enabled(self) -> bool:
        return bool(self._secret and self._base)

    def url(self, page: Page, action: LinkAction, now: datetime) -> str:
        token = issue(self._secret, page.incident_id, page.user_id, action, now, self._ttl)
        return f"{self._base}/{action.value}/{token}"

    def for_page(self, page: Page, now: datetime) -> Links:
        """Trigger pages and escalation notices get both links; an 'acknowledged' notice only the resolve link;
        digests, resolved notices and shift reminders none. Every page about one incident links to it in the
        console (when its URL is set): a digest and a shift reminder are about none."""
        if page.kind in (PageKind.DIGEST, PageKind.SHIFT_REMINDER):
            return Links()
        incident = console_link(self._console, page.incident_id)
        if not self.enabled or page.kind is PageKind.RESOLVED:
            return Links(incident=incident)
        open_ = page.kind in (PageKind.TRIGGER, PageKind.ESCALATED)
        acknowledge = self.url(page, LinkAction.ACKNOWLEDGE, now) if open_ else ""
        return Links(acknowledge=acknowledge, resolve=self.url(page, LinkAction.RESOLVE, now), incident=incident)
