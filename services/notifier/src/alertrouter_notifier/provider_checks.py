"""Each provider's own cheap check, sending nothing, for silent drills (``POST /v1/providers/check``).

The notifier owns the credentials, so it is the one that can tell whether a provider would take a page:
Twilio (SMS, voice, the SMS failover slot): fetch the account with the credentials (refused, suspended or
closed fails); Slack: ``auth.test`` with the bot token; SMTP: connect, EHLO, STARTTLS and AUTH as configured, QUIT.
Teams workflow URLs, Slack incoming webhooks and generic webhooks are the contact methods' own URLs and accept
only a POST that delivers a message, so nothing can check them without posting: they are reported "not checked",
never "ok". A reason is redacted like every delivery error (numbers and addresses masked).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial

import httpx

from alertrouter_notifier.channels.base import SendPermanentError, SendTransientError
from alertrouter_notifier.channels.email import SmtpProvider
from alertrouter_notifier.channels.http import make_http_client
from alertrouter_notifier.channels.slack_api import SlackApi
from alertrouter_notifier.channels.twilio_api import check_account, credentials
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.clock import Clock
from alertrouter_shared.events import ContactMethodType
from alertrouter_shared.provider_check import ProviderCheckReport, ProviderResult, ProviderStatus
from alertrouter_shared.redaction import redact

Check = Callable[[], Awaitable[str]]
_WITHOUT_POSTING = {
    ContactMethodType.TEAMS: "Teams workflow URLs accept only a message: they cannot be checked without posting",
    ContactMethodType.WEBHOOK: "webhook URLs are the contact methods' own: they cannot be checked without posting",
}


async def _run(channel: ContactMethodType, provider: str, check: Check, budget: float) -> ProviderResult:
    started = time.monotonic()
    try:
        detail = await asyncio.wait_for(check(), budget)
        status = ProviderStatus.OK
    except (SendTransientError, SendPermanentError) as exc:
        detail, status = redact(str(exc)), ProviderStatus.FAILED
    except TimeoutError:
        detail, status = f"{provider}: no answer within {budget:.0f}s", ProviderStatus.FAILED
    return ProviderResult(
        channel=channel, provider=provider, status=status, detail=detail, seconds=round(time.monotonic() - started, 3)
    )


def _twilio_accounts(settings: NotifierSettings, http: httpx.AsyncClient) -> dict[str, Check]:
    """The Twilio accounts configured, primary first, each with its own credentials."""
    accounts: dict[str, Check] = {}
    token = settings.twilio_auth_token.get_secret_value()
    if settings.twilio_account_sid and token:
        sid, auth = (
            settings.twilio_account_sid,
            credentials(settings.twilio_account_sid, settings.twilio_api_key_sid, token),
        )
        accounts["twilio"] = partial(check_account, http, "twilio", settings.twilio_base_url, auth, sid)
    if settings.sms_secondary_base_url and settings.sms_secondary_account_sid:
        sid = settings.sms_secondary_account_sid
        secret = settings.sms_secondary_auth_token.get_secret_value()
        auth = credentials(sid, settings.sms_secondary_api_key_sid, secret)
        accounts["sms-secondary"] = partial(
            check_account, http, "sms-secondary", settings.sms_secondary_base_url, auth, sid
        )
    return accounts


def _checks(
    settings: NotifierSettings, http: httpx.AsyncClient, channel: ContactMethodType
) -> list[tuple[str, Check]] | ProviderResult:
    """The checks of one channel's providers, in failover order, or the result without any check."""
    twilio = _twilio_accounts(settings, http)
    if channel is ContactMethodType.SMS:
        found = list(twilio.items())
        return found or _result(channel, ProviderStatus.NOT_CONFIGURED, "no Twilio account (NOTIFIER_TWILIO_*)")
    if channel is ContactMethodType.VOICE:
        if "twilio" in twilio and settings.public_url:
            return [("twilio-voice", twilio["twilio"])]
        return _result(channel, ProviderStatus.NOT_CONFIGURED, "calls need a Twilio account and NOTIFIER_PUBLIC_URL")
    if channel is ContactMethodType.EMAIL:
        if not settings.smtp_host:
            return _result(channel, ProviderStatus.NOT_CONFIGURED, "no SMTP server (NOTIFIER_SMTP_HOST)")
        return [("smtp", SmtpProvider(settings).check)]
    if channel is ContactMethodType.SLACK:
        slack = SlackApi(http, api_url=settings.slack_api_url, bot_token=settings.slack_bot_token.get_secret_value())
        if slack.configured:
            return [("slack-api", slack.auth_test)]
        detail = "no bot token: incoming webhooks are used as configured, and cannot be checked without posting"
        return _result(channel, ProviderStatus.NOT_CHECKED, detail)
    return _result(channel, ProviderStatus.NOT_CHECKED, _WITHOUT_POSTING[channel])


def _result(channel: ContactMethodType, status: ProviderStatus, detail: str) -> ProviderResult:
    return ProviderResult(channel=channel, provider="-", status=status, detail=detail)


async def check_providers(
    settings: NotifierSettings, channels: list[ContactMethodType], clock: Clock
) -> ProviderCheckReport:
    """Every provider of the channels asked for, checked at once; each check bounded by the provider timeouts."""
    budget = max(settings.http_timeout_seconds, settings.smtp_timeout_seconds) + 1
    async with make_http_client(settings.http_timeout_seconds) as http:
        planned: list[ProviderResult | Awaitable[ProviderResult]] = []
        for channel in dict.fromkeys(channels):
            found = _checks(settings, http, channel)
            if isinstance(found, ProviderResult):
                planned.append(found)
            else:
                planned += [_run(channel, name, check, budget) for name, check in found]
        running = [p for p in planned if not isinstance(p, ProviderResult)]
        done = iter(await asyncio.gather(*running))
        results = [p if isinstance(p, ProviderResult) else next(done) for p in planned]
    return ProviderCheckReport(checked_at=clock.now(), providers=results)
