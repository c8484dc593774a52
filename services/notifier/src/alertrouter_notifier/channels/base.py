"""The one small interface every delivery provider implements, and the two ways a send can fail.

A channel (sms, email, ...) is an ordered list of providers: index 0 is the primary, later ones are failover slots.
Providers translate their library's and API's failures into ``SendTransientError`` (worth retrying, optionally
after ``retry_after`` seconds) or ``SendPermanentError`` (never retried; ``failover`` says whether another
provider of the same channel could still succeed, e.g. our credentials were rejected, unlike an invalid number).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Protocol

from alertrouter_shared.errors import PermanentError, TransientError
from alertrouter_shared.events import Page


@dataclass(frozen=True)
class Links:
    """Where the recipient can act on the incident; empty strings when links are not configured."""

    acknowledge: str = ""
    resolve: str = ""
    incident: str = ""  # the incident in the web console


@dataclass(frozen=True)
class Outgoing:
    """Everything a provider needs for one attempt of one delivery."""

    delivery_id: str
    attempt: int
    page: Page
    links: Links = field(default_factory=Links)


@dataclass(frozen=True)
class Receipt:
    """What the provider told us when it accepted the message."""

    provider_message_id: str | None = None
    provider_status_code: str | None = None


class SendTransientError(TransientError):
    def __init__(self, message: str, *, status_code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status_code = status_code


class SendPermanentError(PermanentError):
    def __init__(self, message: str, *, status_code: str | None = None, failover: bool = False) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.failover = failover


class Provider(Protocol):
    """One way to hand a message to the outside world."""

    name: str

    async def send(self, outgoing: Outgoing) -> Receipt: ...

    async def aclose(self) -> None: ...


# Far past any retry deadline (a delivery asked to wait this long is given up at once), yet small enough that the
# next attempt's time can be computed: a receiver's "Retry-After: 1e12" or "inf" overflowed it, and the attempt
# ended without an outcome, to be sent again at every lease expiry until the page expired.
MAX_RETRY_AFTER = 86_400.0


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds, at most a day: delta-seconds (Twilio, Slack) or an HTTP date (RFC 9110 allows both,
    and a web server in front of a webhook may send one; it was ignored, and the receiver asked again at once)."""
    if not value:
        return None
    seconds: float | None
    try:
        seconds = float(value)
    except ValueError:
        seconds = _seconds_until(value)
    return None if seconds is None or math.isnan(seconds) else min(max(0.0, seconds), MAX_RETRY_AFTER)


def _seconds_until(http_date: str) -> float | None:
    """A date without a zone ("-0000") is taken as UTC: HTTP dates are always GMT."""
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() - time.time()
