"""SNS signing certificates: fetched over HTTPS from checked URLs, cached, and trusted only through a CA chain.

The PEM at ``SigningCertURL`` holds the signing certificate and possibly its intermediates. When the chain to a
trust anchor is incomplete, the missing issuer is fetched from the certificate's Authority Information Access
URL -- only from hosts matching ``INGEST_SNS_AIA_HOST_PATTERN`` (Amazon Trust Services by default); what is
fetched there is itself only trusted through the chain. Every use re-checks the chain at the current time, so
an expired certificate is refused even while cached.

A download that fails (the certificate or issuer host unreachable, or answering anything but 200) says nothing
about the message: it is CertificateUnavailable (503, SNS retries), and nothing is cached. SNS does not retry a
4xx, so a 403 is kept for a certificate that really fails verification. Only a certificate whose chain verified
is cached: a failed or incomplete download must not refuse every message of its URL for the cache's lifetime.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import certifi
import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from alertrouter_ingest.metrics import SNS_CERT_FETCHES
from alertrouter_ingest.sns.errors import CertificateUnavailable, SignatureRejected
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)

MAX_CERTIFICATE_BYTES = 64 * 1024


def load_trust_store(bundle: str | None) -> Store:
    """Trust anchors from a PEM bundle (default: certifi's Mozilla roots)."""
    path = Path(bundle) if bundle else Path(certifi.where())
    with warnings.catch_warnings():
        # certifi ships a root with a non-positive serial number; cryptography warns about it on every load.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return Store(x509.load_pem_x509_certificates(path.read_bytes()))


def tls_context(bundle: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=bundle or certifi.where())


@dataclass(frozen=True)
class _Cached:
    leaf: x509.Certificate
    intermediates: tuple[x509.Certificate, ...]
    fetched_at: float


class CertificateStore:
    """Fetches, caches (LRU with a TTL) and chain-validates signing certificates."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        trust: Store,
        aia_host_pattern: re.Pattern[str],
        ttl_seconds: float,
        max_entries: int,
    ) -> None:
        self._client = client
        self._trust = trust
        self._aia_host_pattern = aia_host_pattern
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._pending: dict[str, asyncio.Future[_Cached]] = {}

    async def public_key(self, url: str, now: datetime, names: Sequence[str]) -> rsa.RSAPublicKey:
        """The RSA key of the trusted, currently valid certificate at ``url`` (already host-checked), which must
        be named for one of ``names`` (the SNS signing names of the URL's region: sns/subjects.py)."""
        entry, downloaded = await self._entry(url)
        name = _signing_name(entry.leaf, names)
        self._verify_chain(entry, now, name)
        key = entry.leaf.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise SignatureRejected("the signing certificate does not hold an RSA key", "bad_certificate")
        if downloaded:
            self._remember(url, entry)  # only now: what failed verification is fetched again next time
        return key

    async def _entry(self, url: str) -> tuple[_Cached, bool]:
        """The certificate at ``url`` and whether this call downloaded it (concurrent callers share a download)."""
        cached = self._cache.get(url)
        if cached is not None and time.monotonic() - cached.fetched_at < self._ttl:
            self._cache.move_to_end(url)
            SNS_CERT_FETCHES.labels("cache_hit").inc()
            return cached, False
        pending = self._pending.get(url)
        if pending is not None:
            return await asyncio.shield(pending), False
        future: asyncio.Future[_Cached] = asyncio.get_running_loop().create_future()
        self._pending[url] = future
        try:
            entry = await self._load(url)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters (if any) re-raise it themselves
            raise
        finally:
            self._pending.pop(url, None)
        future.set_result(entry)
        return entry, True

    def _remember(self, url: str, entry: _Cached) -> None:
        self._cache[url] = entry
        self._cache.move_to_end(url)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)

    async def _load(self, url: str) -> _Cached:
        body = await self._download(url, "signing certificate")
        try:
            certificates = x509.load_pem_x509_certificates(body)
        except ValueError as exc:
            SNS_CERT_FETCHES.labels("not_pem").inc()
            raise SignatureRejected("SigningCertURL does not serve a PEM certificate", "bad_certificate") from exc
        SNS_CERT_FETCHES.labels("fetched").inc()
        leaf, bundled = certificates[0], tuple(certificates[1:])
        extra = await self._missing_issuer(leaf, bundled)
        return _Cached(leaf, bundled + extra, time.monotonic())

    async def _missing_issuer(
        self, leaf: x509.Certificate, bundled: tuple[x509.Certificate, ...]
    ) -> tuple[x509.Certificate, ...]:
        """The leaf's issuer from its AIA URL, when the bundle lacks it and the URL's host is allowed.

        A failed issuer download is CertificateUnavailable (503): the chain could not be checked, which says
        nothing about the message, and an incomplete chain must not be cached as if it were the answer.
        """
        if any(c.subject == leaf.issuer for c in bundled) or leaf.issuer == leaf.subject:
            return ()
        url = _ca_issuers_url(leaf)
        if url is None:
            return ()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not self._aia_host_pattern.fullmatch(parts.hostname or ""):
            return ()
        try:
            return _issuer_certificates(await self._download(url, "issuer certificate"))
        except (CertificateUnavailable, SignatureRejected, ValueError) as exc:
            log.warning("sns_aia_fetch_failed", url=url, error=str(exc) or type(exc).__name__)
            raise CertificateUnavailable(f"could not obtain the issuer certificate from {url[:200]}") from exc

    async def _download(self, url: str, what: str) -> bytes:
        """The body at ``url``; CertificateUnavailable (503) for any answer but 200 -- a 404 or 429 from the
        certificate host is no proof of forgery, and SNS would drop the message after our 4xx."""
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    SNS_CERT_FETCHES.labels("server_error" if response.status_code >= 500 else "refused").inc()
                    raise CertificateUnavailable(f"the {what} host answered {response.status_code}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_CERTIFICATE_BYTES:
                        raise SignatureRejected(f"the {what} is implausibly large", "bad_certificate")
                return bytes(body)
        except httpx.HTTPError as exc:
            SNS_CERT_FETCHES.labels("unreachable").inc()
            raise CertificateUnavailable(f"could not fetch the {what}: {type(exc).__name__}") from exc

    def _verify_chain(self, entry: _Cached, now: datetime, name: str) -> None:
        """The chain as a TLS client checks the certificate of the SNS host it is named for (Web PKI rules,
        serverAuth): that is what the CA issued. A client-certificate check demanded clientAuth of the
        intermediates, which CAs are dropping from server hierarchies."""
        verifier = PolicyBuilder().store(self._trust).time(now).build_server_verifier(x509.DNSName(name))
        try:
            verifier.verify(entry.leaf, list(entry.intermediates))
        except VerificationError as exc:
            raise SignatureRejected(f"the signing certificate is not trusted: {exc}", "untrusted_certificate") from exc


def _signing_name(leaf: x509.Certificate, names: Sequence[str]) -> str:
    """The expected name the certificate is issued to (its SAN, exactly: no wildcard); a certificate the CA issued
    to anyone else -- any other site, or SNS of another region -- must not sign SNS messages."""
    issued_to = _dns_names(leaf)
    for name in names:
        if name in issued_to:
            return name
    common_names = [str(a.value) for a in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    shown = ", ".join(name[:64] for name in (issued_to or common_names)[:3]) or "no name"
    raise SignatureRejected(
        f"the signing certificate is issued to {shown}, not to {' or '.join(names)}", "bad_certificate"
    )


def _dns_names(certificate: x509.Certificate) -> list[str]:
    try:
        alternative = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(name) for name in alternative.get_values_for_type(x509.DNSName)]


def _issuer_certificates(body: bytes) -> tuple[x509.Certificate, ...]:
    """An AIA download: DER (what CAs publish) or PEM; ValueError when it is neither."""
    if body.lstrip().startswith(b"-----BEGIN"):
        return tuple(x509.load_pem_x509_certificates(body))
    return (x509.load_der_x509_certificate(body),)


def _ca_issuers_url(certificate: x509.Certificate) -> str | None:
    try:
        access = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    for description in access:
        if description.access_method == AuthorityInformationAccessOID.CA_ISSUERS and isinstance(
            description.access_location, x509.UniformResourceIdentifier
        ):
            return description.access_location.value
    return None
