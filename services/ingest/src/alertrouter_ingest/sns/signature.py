"""RSASSA-PKCS1-v1_5 over the string to sign: SHA-1 for SignatureVersion "1", SHA-256 for "2"."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from alertrouter_ingest.sns.envelope import SIGNATURE_VERSIONS, SnsMessage
from alertrouter_ingest.sns.errors import SignatureRejected


def decode_signature(message: SnsMessage) -> bytes:
    """The raw signature bytes; refused before any network access when absent or not Base64."""
    text = message.signature
    if not text:
        raise SignatureRejected("the message is not signed (no Signature)", "missing_signature")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureRejected("Signature is not valid Base64", "bad_signature") from exc
    if not raw:
        raise SignatureRejected("Signature is empty", "bad_signature")
    return raw


def check_signature_version(message: SnsMessage, minimum: int = 1) -> None:
    """SignatureVersion 1 (SHA-1) or 2 (SHA-256), and not below the integration's ``min_signature_version``."""
    if message.signature_version not in SIGNATURE_VERSIONS:
        raise SignatureRejected(
            f"SignatureVersion {message.signature_version[:16]!r} is not supported (1 or 2)", "signature_version"
        )
    if int(message.signature_version) < minimum:
        raise SignatureRejected(
            f"SignatureVersion {message.signature_version} is refused by this integration "
            f"(min_signature_version {minimum}); set the topic's SignatureVersion to 2",
            "signature_version",
        )


def check_fresh(message: SnsMessage, now: datetime, max_age: timedelta | None, max_skew: timedelta) -> None:
    """Refuse replays (a Timestamp older than the replay window: SNS retries for at most an hour) and messages
    from the future (further ahead than the allowed clock skew): neither can be a genuine delivery now."""
    try:
        sent = datetime.fromisoformat(message.timestamp)
    except ValueError as exc:
        raise SignatureRejected("Timestamp is not an ISO 8601 time", "stale") from exc
    if sent.tzinfo is None:
        raise SignatureRejected("Timestamp has no time zone", "stale")
    try:
        age = now - sent
    except OverflowError as exc:
        raise SignatureRejected("Timestamp is out of range", "stale") from exc
    if max_age is not None and age > max_age:
        raise SignatureRejected(f"Timestamp {message.timestamp[:40]} is older than the replay window", "stale")
    if -age > max_skew:
        raise SignatureRejected(f"Timestamp {message.timestamp[:40]} is in the future", "future")


def verify_signature(public_key: rsa.RSAPublicKey, message: SnsMessage, signature: bytes) -> None:
    algorithm: hashes.HashAlgorithm = hashes.SHA1() if message.signature_version == "1" else hashes.SHA256()  # noqa: S303
    try:
        public_key.verify(signature, message.string_to_sign(), padding.PKCS1v15(), algorithm)
    except InvalidSignature as exc:
        raise SignatureRejected("the signature does not match the message", "bad_signature") from exc
