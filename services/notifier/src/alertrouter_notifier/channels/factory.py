"""Builds every configured provider from settings; a channel without credentials is simply absent
(its deliveries then fail with "channel not configured" instead of being silently dropped)."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from alertrouter_notifier.channels.base import Provider
from alertrouter_notifier.channels.email import SmtpProvider
from alertrouter_notifier.channels.http import make_http_client
from alertrouter_notifier.channels.registry import ChannelSet
from alertrouter_notifier.channels.slack import PreviousMessage, SentMessage, SlackProvider
from alertrouter_notifier.channels.slack_api import SlackApi
from alertrouter_notifier.channels.sms import TwilioProvider
from alertrouter_notifier.channels.teams import TeamsProvider
from alertrouter_notifier.channels.voice import TwilioVoiceProvider
from alertrouter_notifier.channels.webhook import WebhookProvider
from alertrouter_notifier.db.sent_pages import trigger_message
from alertrouter_notifier.links import TWILIO_GATHER_PATH, TWILIO_STATUS_PATH, TWILIO_VOICE_STATUS_PATH, public_url
from alertrouter_notifier.settings import NotifierSettings
from alertrouter_shared.events import ContactMethodType, Page


def sms_providers(settings: NotifierSettings, http: httpx.AsyncClient) -> list[Provider]:
    callback = (
        public_url(settings.public_url, TWILIO_STATUS_PATH)
        if settings.twilio_status_callbacks and settings.public_url
        else ""
    )
    providers: list[Provider] = []
    if settings.twilio_account_sid and settings.twilio_auth_token.get_secret_value():
        providers.append(
            TwilioProvider(
                http,
                name="twilio",
                base_url=settings.twilio_base_url,
                account_sid=settings.twilio_account_sid,
                auth_token=settings.twilio_auth_token.get_secret_value(),
                api_key_sid=settings.twilio_api_key_sid,
                from_number=settings.twilio_from,
                messaging_service_sid=settings.twilio_messaging_service_sid,
                status_callback_url=callback,
                reply_hint=settings.sms_replies,
            )
        )
    if settings.sms_secondary_base_url and settings.sms_secondary_account_sid:
        providers.append(
            TwilioProvider(
                http,
                name="sms-secondary",
                base_url=settings.sms_secondary_base_url,
                account_sid=settings.sms_secondary_account_sid,
                auth_token=settings.sms_secondary_auth_token.get_secret_value(),
                api_key_sid=settings.sms_secondary_api_key_sid,
                from_number=settings.sms_secondary_from or settings.twilio_from,
                status_callback_url=callback,
                reply_hint=settings.sms_replies,
            )
        )
    return providers


def voice_providers(settings: NotifierSettings, http: httpx.AsyncClient) -> list[Provider]:
    """Calls need the public URL: Twilio fetches nothing from us, but posts key presses and call status to it."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token.get_secret_value() and settings.public_url):
        return []
    provider = TwilioVoiceProvider(
        http,
        base_url=settings.twilio_base_url,
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token.get_secret_value(),
        api_key_sid=settings.twilio_api_key_sid,
        from_number=settings.twilio_voice_from or settings.twilio_from,
        gather_url=public_url(settings.public_url, TWILIO_GATHER_PATH),
        status_callback_url=public_url(settings.public_url, TWILIO_VOICE_STATUS_PATH),
        ring_seconds=settings.voice_ring_seconds,
        gather_seconds=settings.voice_gather_seconds,
        machine_detection=settings.voice_machine_detection,
    )
    return [provider]


def _earlier_message(engine: AsyncEngine) -> PreviousMessage:
    async def lookup(page: Page) -> SentMessage | None:
        found = await trigger_message(engine, page)
        return None if found is None else SentMessage(*found)

    return lookup


def build_channels(settings: NotifierSettings, engine: AsyncEngine) -> ChannelSet:
    """One pooled, keep-alive HTTP client per provider: a slow provider never holds another's connections."""
    timeout = settings.http_timeout_seconds
    twilio, slack, teams, webhooks = (make_http_client(timeout) for _ in range(4))
    slack_api = SlackApi(slack, api_url=settings.slack_api_url, bot_token=settings.slack_bot_token.get_secret_value())
    interactive = bool(settings.slack_signing_secret.get_secret_value())
    providers: dict[ContactMethodType, list[Provider]] = {
        ContactMethodType.WEBHOOK: [WebhookProvider(webhooks, settings.webhook_signing_secret.get_secret_value())],
        ContactMethodType.SMS: sms_providers(settings, twilio),
        ContactMethodType.SLACK: [
            SlackProvider(slack, slack_api, interactive=interactive, previous=_earlier_message(engine))
        ],
        ContactMethodType.TEAMS: [TeamsProvider(teams)],
        ContactMethodType.VOICE: voice_providers(settings, twilio),
    }
    if settings.smtp_host:
        providers[ContactMethodType.EMAIL] = [SmtpProvider(settings)]
    return ChannelSet(providers, clients=[twilio, slack, teams, webhooks])
