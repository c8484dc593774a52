"""Pooled httpx clients for the HTTP providers, and the mapping of transport failures to transient errors."""

from __future__ import annotations

import functools
import ssl
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from alertrouter_notifier.channels.base import SendPermanentError, SendTransientError, parse_retry_after
from alertrouter_notifier.channels.http_pool import Http11Pool

RETRYABLE_STATUS = frozenset({408, 425, 429})
# Per provider (each has its own client). More sends than connections wait for one (within the pool timeout);
# 16 connections carried 500 pages/s to one receiver. The dispatcher's NOTIFIER_MAX_CONCURRENT_SENDS is what
# bounds the sends in progress.
LIMITS = httpx.Limits(max_connections=16, max_keepalive_connections=16, keepalive_expiry=5.0)
UNLIMITED_MEANS = 100  # httpx's own default, for a Limits that leaves a bound out
MAX_ANSWER_BYTES = 1 << 20  # of a provider's answer, read (see read_at_most)
_BODY_FRAMING = frozenset({"content-length", "content-encoding", "transfer-encoding"})


class AsyncioTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (its request model and error mapping) on the notifier's pool and network backend."""

    def __init__(self, limits: httpx.Limits = LIMITS, ssl_context: ssl.SSLContext | None = None) -> None:
        ssl_context = ssl_context or httpx.create_ssl_context()
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        self.pool = Http11Pool(
            ssl_context,
            max_connections=UNLIMITED_MEANS if limits.max_connections is None else limits.max_connections,
            max_keepalive_connections=(
                UNLIMITED_MEANS if limits.max_keepalive_connections is None else limits.max_keepalive_connections
            ),
            keepalive_expiry=limits.keepalive_expiry,
        )
        self._pool = self.pool  # type: ignore[assignment]  # httpx calls its pool through this (duck-typed)


class _NoCookies(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        """Nothing to keep: building the cookie jar's view of a response was 13 % of a request's CPU."""


@functools.lru_cache(maxsize=1024)
def _parsed(url: str) -> httpx.URL:
    return httpx.URL(url)


class ProviderClient(httpx.AsyncClient):
    """httpx's client as the providers need it, without two costs paid on every request:

    - no cookie jar: provider APIs and webhooks authenticate per request, never by cookie, and httpx would
      otherwise build the jar's view of every response;
    - a destination string is parsed once (cached), not on every send (about a tenth of a request's CPU); an
      unparseable one still raises ``httpx.InvalidURL`` from the call, a permanent failure in ``transport_errors``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        raise TypeError("the notifier's HTTP clients keep no cookies")

    async def request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Response:
        auth = kwargs.pop("auth", httpx.USE_CLIENT_DEFAULT)
        follow_redirects = kwargs.pop("follow_redirects", httpx.USE_CLIENT_DEFAULT)
        request = self.build_request(method, _parsed(url) if isinstance(url, str) else url, **kwargs)
        response = await self.send(request, auth=auth, follow_redirects=follow_redirects, stream=True)
        try:
            return await read_at_most(response, MAX_ANSWER_BYTES)
        except httpx.DecodingError:
            # An answer whose Content-Encoding does not match its bytes (a receiver that labels plain text gzip): the
            # status still says what happened. Raised, it counted as transient whatever the status, so a 2xx page was
            # sent again at every retry until the deadline and then reported failed.
            headers = [(k, v) for k, v in response.headers.items() if k not in _BODY_FRAMING]
            return httpx.Response(response.status_code, headers=headers, request=response.request)
        finally:
            await response.aclose()  # after a full read it is closed already; a cut one loses its connection


async def read_at_most(response: httpx.Response, limit: int) -> httpx.Response:
    """The answer with at most ``limit`` bytes of body: a provider's answer is a few kilobytes, and a webhook URL
    that serves a large file (a misconfiguration) or an endless stream would otherwise be read whole into memory,
    by every retry, until the notifier ran out of it. Only the status and the first bytes decide an outcome."""
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) <= limit and "content-encoding" not in response.headers:
        await response.aread()
        return response
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= limit:
            break
    headers = [(k, v) for k, v in response.headers.items() if k not in _BODY_FRAMING]
    return httpx.Response(response.status_code, headers=headers, content=bytes(body[:limit]), request=response.request)


def make_http_client(timeout: float) -> httpx.AsyncClient:
    """A keep-alive client; direct connections use the asyncio backend.

    With an HTTP(S)_PROXY/ALL_PROXY in the environment, httpx's default transport is kept so the proxy (and
    NO_PROXY) apply exactly as httpx documents them.
    """
    if _environment_proxies():
        return ProviderClient(limits=LIMITS, timeout=httpx.Timeout(timeout), follow_redirects=False)
    return ProviderClient(transport=AsyncioTransport(), timeout=httpx.Timeout(timeout), follow_redirects=False)


def _environment_proxies() -> bool:
    proxies = urllib.request.getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


@asynccontextmanager
async def transport_errors(provider: str) -> AsyncIterator[None]:
    """Timeouts and connection failures: the request may or may not have been processed, so retry.

    A URL without http(s):// (or with another scheme) is a transport error to httpx, but no attempt will ever send
    it: it was retried until the deadline before the router heard the person was not reached. So are a host or a
    port the socket layer refuses."""
    try:
        yield
    except httpx.UnsupportedProtocol as exc:
        raise SendPermanentError(f"{provider}: invalid URL: {exc}", status_code="invalid_url") from exc
    except httpx.TimeoutException as exc:
        raise SendTransientError(f"{provider}: timed out ({type(exc).__name__})", status_code="timeout") from exc
    except httpx.TransportError as exc:
        raise SendTransientError(f"{provider}: {type(exc).__name__}: {exc}", status_code="connect") from exc
    except httpx.InvalidURL as exc:
        raise SendPermanentError(f"{provider}: invalid URL: {exc}", status_code="invalid_url") from exc
    except (UnicodeError, OverflowError) as exc:
        # A host no IDNA encoding takes ("hooks..example.com", a label over 63 characters) or a port past 65535:
        # httpx lets them through and the socket layer refuses them, as no httpx error, so they were retried as
        # unexpected until the deadline. No attempt will ever send to them.
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
