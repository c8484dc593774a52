"""Guards in front of every intake: body read deadline, requests in flight, per-integration rate, content type,
body size.

Each guard answers immediately with the status a sender understands (408/503/429/415/413) instead of letting
latency or memory grow without bound under a flood. An in-flight slot is taken only once the body is read and
the integration known, so clients that connect and then send nothing (or send slowly) hold no slot: they only
wait, each for at most the body read deadline, and one integration can hold at most its share of the slots.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from starlette.requests import Request

from alertrouter_ingest.api.problems import ApiProblem
from alertrouter_ingest.metrics import IN_FLIGHT, READING_BODIES
from alertrouter_shared.web import bodies


class InFlightLimiter:
    """Counters, not queues: beyond ``limit`` concurrent requests, or ``share`` of one integration, the next one is
    refused at once (503) -- so a noisy integration cannot take the slots every other integration needs."""

    def __init__(self, limit: int, share: int, retry_after: float) -> None:
        self.limit = limit
        self.share = min(share, limit)
        self.retry_after = retry_after
        self.current = 0
        self._per_integration: dict[str, int] = {}

    @contextmanager
    def held(self, integration_id: str) -> Iterator[None]:
        """One slot for ``integration_id`` while the block runs."""
        taken = self._per_integration.get(integration_id, 0)
        if self.current >= self.limit:
            raise self._overloaded(f"too many requests in flight (limit {self.limit}); retry shortly")
        if taken >= self.share:
            raise self._overloaded(
                f"too many requests of integration {integration_id!r} in flight (its share is {self.share}); "
                "retry shortly"
            )
        self.current += 1
        self._per_integration[integration_id] = taken + 1
        IN_FLIGHT.inc()
        try:
            yield
        finally:
            self.current -= 1
            left = self._per_integration[integration_id] - 1
            if left:
                self._per_integration[integration_id] = left
            else:
                del self._per_integration[integration_id]
            IN_FLIGHT.dec()

    def _overloaded(self, detail: str) -> ApiProblem:
        return ApiProblem(503, detail, reason="overloaded", retry_after=self.retry_after)


class RateLimiter:
    """A token bucket per integration; a rate of 0 turns it off."""

    def __init__(self, rate_per_second: float, burst: int) -> None:
        self.rate = rate_per_second
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, integration_id: str, now: float | None = None) -> float | None:
        """None when a token was taken, else the seconds until one is available."""
        if not self.enabled:
            return None
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(integration_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[integration_id] = (tokens - 1.0, now)
            return None
        self._buckets[integration_id] = (tokens, now)
        return (1.0 - tokens) / self.rate


def media_type(request: Request) -> str | None:
    raw = request.headers.get("content-type")
    if raw is None:
        return None
    return raw.split(";", 1)[0].strip().lower()


def check_content_type(request: Request, allowed: Iterable[str], *, json_suffix: bool = True) -> None:
    """Refuse a declared content type the intake cannot read (415); an absent header is tolerated."""
    kind = media_type(request)
    if kind is None or kind in allowed or (json_suffix and kind.endswith("+json")):
        return
    raise ApiProblem(
        415,
        f"Content-Type {kind!r} is not accepted here; send {' or '.join(sorted(allowed))}",
        reason="content_type",
    )


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The whole body within ``timeout`` seconds (else 408), refusing (413) as soon as it exceeds ``limit`` bytes --
    never buffering more."""
    READING_BODIES.inc()
    try:
        return await bodies.read_body(request, limit, timeout)
    except bodies.BodyRefused as exc:
        raise ApiProblem(exc.status_code, exc.detail, reason=exc.reason) from exc
    finally:
        READING_BODIES.dec()
