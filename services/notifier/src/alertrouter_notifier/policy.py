"""Retry, expiry, failover and throttle policy as plain values, so the rules can be read (and tested) in one place."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.events import ContactMethodType, Page

# One request waits at most the provider timeout four times: for a free connection, to connect, to send, and for
# the answer. Each wait is bounded on its own (httpx's timeouts, aiosmtplib's per command), so a receiver that
# answers a byte at a time, each within the timeout, kept an attempt open without end: it held its send slot and
# outlived its lease, and the page was claimed and sent a second time while the first send still ran.
ATTEMPT_WAITS = 4


@dataclass(frozen=True)
class DeliveryPolicy:
    max_page_age: timedelta = timedelta(seconds=900)
    retry_base: float = 2.0
    retry_max: float = 60.0
    retry_deadline: timedelta = timedelta(seconds=600)
    failover_after: timedelta = timedelta(seconds=60)
    send_lease: timedelta = timedelta(seconds=120)
    attempt_timeout: float = 40.0  # seconds; keep the send lease above it
    throttle_window: timedelta = timedelta(seconds=60)
    throttle_limits: dict[ContactMethodType, int] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: NotifierSettings) -> DeliveryPolicy:
        return cls(
            max_page_age=timedelta(seconds=settings.max_page_age_seconds),
            retry_base=settings.retry_base_seconds,
            retry_max=settings.retry_max_seconds,
            retry_deadline=timedelta(seconds=settings.retry_deadline_seconds),
            failover_after=timedelta(seconds=settings.failover_after_seconds),
            send_lease=timedelta(seconds=settings.send_lease_seconds),
            attempt_timeout=ATTEMPT_WAITS * max(settings.http_timeout_seconds, settings.smtp_timeout_seconds),
            throttle_window=timedelta(seconds=settings.throttle_window_seconds),
            throttle_limits={channel: settings.throttle_limit(channel) for channel in ContactMethodType},
        )

    def page_age(self, page: Page, now: datetime) -> timedelta:
        return now - page.send_at

    def is_expired(self, page: Page, now: datetime) -> bool:
        """Backlog replay protection: a page that waited longer than this is reported, not sent."""
        return self.page_age(page, now) > self.max_page_age

    def throttle_limit(self, channel: ContactMethodType) -> int:
        return self.throttle_limits.get(channel, 0)

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Exponential backoff with equal jitter; a provider's Retry-After wins when it asks for longer."""
        ceiling = min(self.retry_max, self.retry_base * 2.0 ** max(0, attempt - 1))
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        if retry_after is not None:
            delay = max(delay, retry_after) if retry_after > 0 else delay
        return delay
