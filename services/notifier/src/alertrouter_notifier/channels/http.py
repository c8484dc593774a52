"""One pooled httpx client for every HTTP provider, and the mapping of transport failures to transient errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from alertrouter_notifier.channels.base import SendPermanentError, SendTransientError, parse_retry_after

RETRYABLE_STATUS = frozenset({408, 425, 429})


def make_http_client(timeout: float) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout), limits=limits, follow_redirects=False)


@asynccontextmanager
async def transport_errors(provider: str) -> AsyncIterator[None]:
    """Timeouts and connection failures: the request may or may not have been processed, so retry."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise SendTransientError(f"{provider}: timed out ({type(exc).__name__})", status_code="timeout") from exc
    except httpx.TransportError as exc:
        raise SendTransientError(f"{provider}: {type(exc).__name__}: {exc}", status_code="connect") from exc
    except httpx.InvalidURL as exc:
        raise SendPermanentError(f"{provider}: invalid URL: {exc}", status_code="invalid_url") from exc


def raise_for_http_status(provider: str, response: httpx.Response) -> None:
    """Generic rule for providers without richer error bodies: 429/5xx/408 retry, other non-2xx never.

    The body is read into the error only on failure (decoding it on every success was measurable per delivery)."""
    if response.is_success:
        return
    code = str(response.status_code)
    detail = short_body(response)
    if response.status_code in RETRYABLE_STATUS or response.status_code >= 500:
        raise SendTransientError(
            f"{provider}: HTTP {code}: {detail}",
            status_code=code,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    raise SendPermanentError(f"{provider}: HTTP {code}: {detail}", status_code=code)


def short_body(response: httpx.Response, limit: int = 300) -> str:
    return response.text[:limit].strip()
