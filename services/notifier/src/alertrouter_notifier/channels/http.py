"""Pooled httpx clients for the HTTP providers, and the mapping of transport failures to transient errors."""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpcore
import httpx

from alertrouter_notifier.channels.asyncio_network import AsyncioBackend
from alertrouter_notifier.channels.base import SendPermanentError, SendTransientError, parse_retry_after

RETRYABLE_STATUS = frozenset({408, 425, 429})
# Per provider (each has its own client). More sends than connections wait for one (within the HTTP timeout):
# httpcore re-examines every pooled connection on each request and response, so a pool of 64 connections cost
# twice the CPU per request of one of 16 at the same load, for no more throughput to one receiver. The
# dispatcher's NOTIFIER_MAX_CONCURRENT_SENDS is what bounds the sends in progress.
LIMITS = httpx.Limits(max_connections=16, max_keepalive_connections=16, keepalive_expiry=5.0)


class AsyncioTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (its request and error mapping) with its pool on the asyncio-native backend.

    Requests beyond the pool's connections wait on a plain semaphore rather than inside httpcore's pool, which
    re-examines every waiting request against every connection on each request and response (with 64 sends in
    flight to a pool of 16, that was the largest part of a request's cost). The wait keeps httpx's pool timeout.
    """

    def __init__(self, limits: httpx.Limits = LIMITS, ssl_context: ssl.SSLContext | None = None) -> None:
        ssl_context = ssl_context or httpx.create_ssl_context()
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=AsyncioBackend(),
        )
        self._slots = asyncio.Semaphore(limits.max_connections) if limits.max_connections else None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._slots is None:
            return await super().handle_async_request(request)
        await self._take_slot(request)
        try:
            response = await super().handle_async_request(request)
        except BaseException:
            self._slots.release()
            raise
        response.stream = _ReleasedOnClose(response.stream, self._slots.release)
        return response

    async def _take_slot(self, request: httpx.Request) -> None:
        assert self._slots is not None
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns at once
            return
        timeout = request.extensions.get("timeout", {}).get("pool")
        try:
            async with asyncio.timeout(timeout):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise httpx.PoolTimeout(f"no connection free within {timeout} s", request=request) from exc


class _ReleasedOnClose(httpx.AsyncByteStream):
    """A response body that gives its connection slot back when closed (httpx closes every response it reads)."""

    def __init__(self, stream: httpx.AsyncByteStream | httpx.SyncByteStream, release: Callable[[], None]) -> None:
        assert isinstance(stream, httpx.AsyncByteStream)
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:  # once, however often the response is closed
                release()


def make_http_client(timeout: float) -> httpx.AsyncClient:
    """A keep-alive client; direct connections use the asyncio backend.

    With an HTTP(S)_PROXY/ALL_PROXY in the environment, httpx's default transport is kept so the proxy (and
    NO_PROXY) apply exactly as httpx documents them.
    """
    if _environment_proxies():
        return httpx.AsyncClient(limits=LIMITS, timeout=httpx.Timeout(timeout), follow_redirects=False)
    return httpx.AsyncClient(transport=AsyncioTransport(), timeout=httpx.Timeout(timeout), follow_redirects=False)


def _environment_proxies() -> bool:
    proxies = urllib.request.getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


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
