"""``NOTIFIER_PUBLIC_URL`` is where people (acknowledge links) and Twilio (status callbacks, key presses, SMS replies)
reach the notifier. Its default, ``http://127.0.0.1:8082``, only works on a developer's machine: left in production,
every such link and callback points at the receiver's own loopback.

At start the notifier checks it: a loopback public URL with a real Twilio account configured (an API that is not
itself on loopback, as the test and development stand-ins are) refuses to start, since call status, key presses and
SMS delivery reports would never arrive and calls could not be answered; otherwise a loopback URL is a warning.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.logging import get_logger

log = get_logger(__name__)


class PublicUrlError(ValueError):
    """The public URL cannot work with the providers configured: the notifier refuses to start."""


def is_loopback(url: str) -> bool:
    """True for a URL on this machine only (localhost, 127.0.0.0/8, ::1); False for an empty or unparsable one."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _real_twilio(settings: NotifierSettings) -> bool:
    """The primary Twilio account is configured and its API is not a local stand-in."""
    configured = bool(settings.twilio_account_sid and settings.twilio_auth_token.get_secret_value())
    return configured and not is_loopback(settings.twilio_base_url)


def callbacks_needing_a_public_url(settings: NotifierSettings) -> list[str]:
    """What a real provider would post to NOTIFIER_PUBLIC_URL (empty: nothing that must reach us)."""
    needs: list[str] = []
    if _real_twilio(settings):
        needs.append("Twilio voice calls (key presses and call status)")
        if settings.twilio_status_callbacks:
            needs.append("Twilio SMS status callbacks")
        if settings.sms_replies:
            needs.append("SMS replies (NOTIFIER_SMS_REPLIES)")
    secondary = settings.sms_secondary_base_url and settings.sms_secondary_account_sid
    if secondary and settings.twilio_status_callbacks and not is_loopback(settings.sms_secondary_base_url):
        needs.append("the secondary SMS provider's status callbacks")
    return needs


def check_public_url(settings: NotifierSettings) -> None:
    """Raise ``PublicUrlError`` when a loopback public URL breaks a configured provider; warn when it is loopback."""
    if not is_loopback(settings.public_url):
        return
    hint = (
        "set NOTIFIER_PUBLIC_URL to the address people and providers reach the notifier on (Helm chart: "
        "notifier.publicUrl, or a notifier ingress host)"
    )
    needs = callbacks_needing_a_public_url(settings)
    if needs:
        raise PublicUrlError(
            f"NOTIFIER_PUBLIC_URL is {settings.public_url}, a loopback address Twilio cannot reach, but "
            f"{', '.join(needs)} are posted there: {hint}"
        )
    uses = ["acknowledge links"] if settings.ack_signing_secret.get_secret_value() else []
    if settings.slack_signing_secret.get_secret_value():
        uses.append("the Slack interactions URL (NOTIFIER_PUBLIC_URL/v1/slack/interactions)")
    log.warning(
        "public_url_loopback",
        public_url=settings.public_url,
        points_here=uses or ["nothing configured yet"],
        hint=f"only this machine can reach it: {hint}",
    )
