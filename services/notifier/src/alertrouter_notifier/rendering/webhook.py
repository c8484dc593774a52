"""The generic webhook body and its signature.

Signature header: ``X-Alertrouter-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``.
The timestamp is inside the signed string so a receiver can reject replays older than a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

import orjson

from alertrouter_notifier.channels.base import Outgoing
from alertrouter_notifier.rendering.sms import render_sms

SIGNATURE_HEADER = "X-Alertrouter-Signature"
DELIVERY_HEADER = "X-Alertrouter-Delivery"
WEBHOOK_EVENT = "alertrouter.page"


def webhook_body(outgoing: Outgoing) -> bytes:
    page = outgoing.page
    body = {
        "schema_version": 1,
        "type": WEBHOOK_EVENT,
        "delivery_id": outgoing.delivery_id,
        "attempt": outgoing.attempt,
        "drill": page.drill,
        "text": render_sms(page, outgoing.links),
        "links": {
            "acknowledge": outgoing.links.acknowledge or None,
            "resolve": outgoing.links.resolve or None,
            "incident": outgoing.links.incident or None,
        },
        "page": orjson.Fragment(page.model_dump_json()),
    }
    return orjson.dumps(body)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: datetime, tolerance_seconds: float = 300) -> bool:
    """Receiver side of ``sign``: constant-time comparison and a replay window."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
