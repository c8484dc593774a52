"""Whether a delivery outcome means the person was not reached on this contact method, for good.

The router escalates at once when every contact method of every person of a level failed for good, so the
deliveries topic says it explicitly (``failed_for_good``) with a short phrase for the decision text
("sms undelivered", "voice no-answer"), rather than leaving each consumer to interpret statuses and codes.
"""

from __future__ import annotations

from alertrouter_shared.events import ContactMethodType, DeliveryStatus

GAVE_UP_PREFIX = "gave up at the retry deadline"
NOT_REACHED = frozenset({DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED, DeliveryStatus.EXPIRED})
CALL_NOT_ANSWERED = frozenset({"no-answer", "busy", "failed", "canceled", "voicemail"})


def failure_reason(
    channel: ContactMethodType, status: DeliveryStatus, code: str | None, error: str | None
) -> str | None:
    """None while the contact method may still reach the person; else why it will not, in a few words."""
    if status not in NOT_REACHED:
        return None
    name = channel.value
    if channel is ContactMethodType.VOICE and code in CALL_NOT_ANSWERED:
        return f"voice {code}"
    if status is DeliveryStatus.EXPIRED:
        return f"{name} expired"
    if status is DeliveryStatus.UNDELIVERED:
        return f"{name} undelivered" + (f" ({code})" if code and code != "undelivered" else "")
    if error and error.startswith(GAVE_UP_PREFIX):
        return f"{name} retries past the deadline"
    return f"{name} failed" + (f" ({code})" if code else "")
