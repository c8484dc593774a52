"""Builds the acknowledge/resolve links rendered into every message (served by the notifier, see ack_pages)."""

from __future__ import annotations

from datetime import datetime, timedelta

from alertrouter_notifier.ack_tokens import LinkAction, issue
from alertrouter_notifier.channels.base import Links
from alertrouter_shared.events import Page, PageKind


class LinkBuilder:
    def __init__(self, public_url: str, secret: str, ttl: timedelta) -> None:
        self._base = public_url.rstrip("/")
        self._secret = secret
        self._ttl = ttl

    @property
    def enabled(self) -> bool:
        return bool(self._secret and self._base)

    def url(self, page: Page, action: LinkAction, now: datetime) -> str:
        token = issue(self._secret, page.incident_id, page.user_id, action, now, self._ttl)
        return f"{self._base}/{action.value}/{token}"

    def for_page(self, page: Page, now: datetime) -> Links:
        """Trigger pages and escalation notices get both links; an 'acknowledged' notice only the resolve link;
        digests, resolved notices and shift reminders none."""
        if not self.enabled or page.kind in (PageKind.DIGEST, PageKind.RESOLVED, PageKind.SHIFT_REMINDER):
            return Links()
        open_ = page.kind in (PageKind.TRIGGER, PageKind.ESCALATED)
        acknowledge = self.url(page, LinkAction.ACKNOWLEDGE, now) if open_ else ""
        return Links(acknowledge=acknowledge, resolve=self.url(page, LinkAction.RESOLVE, now))
