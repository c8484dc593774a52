"""Signed, expiring tokens for acknowledge/resolve links: one incident, one user, one action.

Format: ``<base64url(JSON claims)>.<base64url(HMAC-SHA256(secret, first part))>``. The token is the only thing
a link carries, so a tampered incident, user, action or expiry fails the MAC check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import orjson


class LinkAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class InvalidToken(Exception):
    """The token was not issued by us (or was altered)."""


class ExpiredToken(InvalidToken):
    """Genuine, but too old to act on."""


@dataclass(frozen=True)
class LinkClaims:
    incident_id: str
    user_id: str
    action: LinkAction
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())


def issue(secret: str, incident_id: str, user_id: str, action: LinkAction, now: datetime, ttl: timedelta) -> str:
    if not secret:
        raise ValueError("an acknowledge-link signing secret is required")
    claims = {"i": incident_id, "u": user_id, "a": action.value, "exp": int((now + ttl).timestamp())}
    payload = _b64(orjson.dumps(claims))
    return f"{payload}.{_mac(secret, payload)}"


def verify(secret: str, token: str, now: datetime) -> LinkClaims:
    payload, _, mac = token.partition(".")
    if not secret or not payload or not mac or not hmac.compare_digest(_mac(secret, payload).encode(), mac.encode()):
        raise InvalidToken("the link is not valid")
    try:
        claims = orjson.loads(_unb64(payload))
        parsed = LinkClaims(
            incident_id=str(claims["i"]),
            user_id=str(claims["u"]),
            action=LinkAction(claims["a"]),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidToken("the link is not valid") from exc
    if now >= parsed.expires_at:
        raise ExpiredToken("the link has expired")
    return parsed
