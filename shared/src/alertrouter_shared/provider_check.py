"""The wire format of the notifier's provider check (``POST /v1/providers/check``), which a silent drill asks for.

The notifier owns the providers' credentials, so it does each provider's own cheap check (Twilio: fetch the
account; Slack: ``auth.test``; SMTP: connect, EHLO, login, QUIT) and the router only reads the outcome.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from alertrouter_shared.events import ContactMethodType


class ProviderStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"  # the provider's check failed: credentials refused, unreachable, account suspended
    NOT_CONFIGURED = "not configured"  # no provider for the channel: its pages would fail
    NOT_CHECKED = "not checked"  # configured, but nothing can check it without sending (webhook URLs)


class ProviderCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[ContactMethodType] = Field(
        default_factory=lambda: list(ContactMethodType), description="the channels to check (default: all)"
    )


class ProviderResult(BaseModel):
    channel: ContactMethodType
    provider: str  # the provider's name (twilio, sms-secondary, slack-api, smtp, ...) or "-" when none
    status: ProviderStatus
    detail: str = Field("", description="what was checked, or why it failed (phone numbers and addresses masked)")
    seconds: float = Field(0.0, description="how long the check took")


class ProviderCheckReport(BaseModel):
    checked_at: datetime
    providers: list[ProviderResult]
