"""Why an SNS message was refused: forged or unverifiable (403), or the certificate host is unreachable (503)."""

from __future__ import annotations


class SignatureRejected(Exception):
    """The message is not provably from SNS: 403, and nothing else happens."""

    def __init__(self, detail: str, reason: str = "bad_signature") -> None:
        super().__init__(detail)
        self.detail = detail
        self.reason = reason


class CertificateUnavailable(Exception):
    """The signing certificate could not be fetched right now: 503, SNS retries the delivery."""
