"""Guards in front of every intake: body read deadline, requests in flight, bytes in flight, per-integration rate,
content type, body size.

Each guard answers immediately with the status a sender understands (408/503/429/415/413) instead of letting
latency or memory grow without bound under a flood. An in-flight slot is taken only once the body is read and
the integration known, so clients that connect and then send nothing (or send slowly) hold no slot: they only
wait, each for at most the body read deadline, and one integration can hold at most its share of the slots.

Slots bound how many requests are handled, not how much memory they hold: 512 requests, each up to 8 MiB of
records, would be 4 GiB. The byte budget bounds that: every byte of a request body, as it arrives, then what
parsing makes of it (``PARSED_BODY_FACTOR`` times the body, taken once the body is whole and before it is parsed),
and every byte of a record built from it are taken from ``INGEST_MAX_IN_FLIGHT_BYTES`` and given back once the
request is answered (whatever the answer, or an exception, or a disconnect). A request whose declared body
(Content-Length) does not fit, parsed, is refused before any of it is read; one that does not fit later -- a body
without Content-Length, its parsing, or its records -- is refused as soon as it does not, before anything is
produced to Kafka. A slow client holds only the bytes it has actually sent.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from starlette.requests import Request

from alertrouter_ingest.api.problems import ApiProblem
from alertrouter_ingest.metrics import BYTES_IN_FLIGHT, IN_FLIGHT, READING_BODIES
from alertrouter_ingest.settings import PARSED_BODY_FACTOR
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


class ByteBudget:
    """A counter of bytes held by requests being handled; a request that would take it past ``limit`` is refused
    (503) at once, like a request beyond the in-flight slots."""

    def __init__(self, limit: int, retry_after: float) -> None:
        self.limit = limit
        self.retry_after = retry_after
        self.held = 0

    def reservation(self) -> Reservation:
        return Reservation(self)

    def _refuse(self, size: int) -> ApiProblem:
        return ApiProblem(
            503,
            f"too many bytes in flight (the request needs {size} more; limit {self.limit} bytes of bodies and "
            "records); retry shortly",
            reason="bytes_in_flight",
            retry_after=self.retry_after,
        )


class Reservation:
    """One request's share of the budget: grows as its body arrives and its records are built, and is given back
    whole by ``release`` when the request is answered."""

    def __init__(self, budget: ByteBudget) -> None:
        self._budget = budget
        self.size = 0

    def check(self, size: int) -> None:
        """Refuse (503) unless ``size`` more bytes fit now; takes nothing (a body's declared length)."""
        if self._budget.held + size > self._budget.limit:
            raise self._budget._refuse(size)

    def take(self, size: int) -> None:
        """Hold ``size`` more bytes until ``release``, or refuse (503) when they do not fit."""
        self.check(size)
        self._budget.held += size
        self.size += size
        BYTES_IN_FLIGHT.inc(size)

    def release(self) -> None:
        self._budget.held -= self.size
        BYTES_IN_FLIGHT.dec(self.size)
        self.size = 0


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


async def read_body(request: Request, limit: int, timeout: float, reservation: Reservation) -> bytes:
    """The whole body within ``timeout`` seconds (else 408), refusing (413) as soon as it exceeds ``limit`` bytes --
    never buffering more -- and (503) as soon as it does not fit in the byte budget with what parsing will make of
    it: before reading anything when its declared length does not fit, else at the first chunk that does not, or
    once whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) <= limit:
        reservation.check(int(declared) * (1 + PARSED_BODY_FACTOR))
    READING_BODIES.inc()
    try:
        body = await bodies.read_body(request, limit, timeout, on_chunk=reservation.take)
    except bodies.BodyRefused as exc:
        raise ApiProblem(exc.status_code, exc.detail, reason=exc.reason) from exc
    finally:
        READING_BODIES.dec()
    reservation.take(len(body) * PARSED_BODY_FACTOR)  # what parsing will make of it, before it is parsed
    return body
