"""Notifier settings: every provider base URL, credential, timeout and policy knob comes from the environment.

Provider base URLs are settings so tests point the real clients at local servers speaking the same API shapes.
Contract variables (``KAFKA_BOOTSTRAP_SERVERS``, ``DATABASE_URL``, ``ALERTROUTER_API_TOKENS``) stay unprefixed;
everything below is read as ``NOTIFIER_<FIELD NAME>``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from alertrouter_shared.events import ContactMethodType
from alertrouter_shared.settings import CommonSettings, check_retention, retention_days
from alertrouter_shared.topics import DELIVERIES, PAGES, PAGES_DLQ


class NotifierSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore", populate_by_name=True)

    # HTTP API and Kafka
    host: str = "0.0.0.0"
    port: int = 8082
    consumer_group: str = "notifier"
    pages_topic: str = PAGES
    deliveries_topic: str = DELIVERIES
    pages_dlq_topic: str = PAGES_DLQ
    public_url: str = Field(
        "http://127.0.0.1:8082",
        description="Base URL people and Twilio reach us on; a loopback one is refused with a real Twilio account",
    )
    console_url: str = Field(
        "", description="Base URL of the router's web console: messages link to the incident there; empty: no link"
    )
    publish_timeout_seconds: float = 10.0
    db_pool_size: int = Field(
        10,
        ge=1,
        description="the process's PostgreSQL pool: this many connections kept, as many again in bursts (at most "
        "2 x this)",
    )

    # Delivery policy
    max_page_age_seconds: float = Field(900.0, gt=0)
    retry_base_seconds: float = Field(2.0, gt=0)
    retry_max_seconds: float = Field(60.0, gt=0)
    retry_deadline_seconds: float = Field(600.0, gt=0)
    failover_after_seconds: float = Field(60.0, ge=0)
    send_lease_seconds: float = Field(120.0, gt=0)
    retry_poll_seconds: float = Field(0.5, gt=0)
    retention_days: int = retention_days(
        "days deliveries (and their attempts) are kept once over: GET /v1/deliveries and the console show no older"
    )
    max_concurrent_sends: int = Field(64, ge=1)
    claim_batch_size: int = Field(100, ge=1)
    http_timeout_seconds: float = Field(10.0, gt=0)

    # Flood protection: at most N messages per window per contact method (0 = unlimited)
    throttle_window_seconds: float = Field(60.0, gt=0)
    throttle_sms_max: int = Field(3, ge=0)
    throttle_email_max: int = Field(10, ge=0)
    throttle_slack_max: int = Field(20, ge=0)
    throttle_teams_max: int = Field(20, ge=0)
    throttle_webhook_max: int = Field(0, ge=0)
    throttle_voice_max: int = Field(3, ge=0)

    # Generic webhook
    webhook_signing_secret: SecretStr = SecretStr("")

    # SMS: Twilio (primary slot) and a Twilio-compatible secondary slot for failover
    twilio_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_api_key_sid: str = Field(
        "", description="an API key (SK...) to call Twilio with; the key's secret goes in the auth token"
    )
    twilio_webhook_auth_token: SecretStr = Field(
        SecretStr(""),
        description="the account's auth token, which Twilio signs its callbacks with: needed with an API key",
    )
    twilio_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_status_callbacks: bool = True
    sms_secondary_base_url: str = ""
    sms_secondary_account_sid: str = ""
    sms_secondary_auth_token: SecretStr = SecretStr("")
    sms_secondary_api_key_sid: str = ""
    sms_secondary_webhook_auth_token: SecretStr = Field(
        SecretStr(""), description="the secondary account's auth token for its callbacks: needed with an API key"
    )
    sms_secondary_from: str = ""

    # Voice calls: Twilio Programmable Voice, on the primary Twilio account
    twilio_voice_from: str = Field("", description="caller id of page calls; empty = NOTIFIER_TWILIO_FROM")
    voice_ring_seconds: int = Field(30, ge=5, le=600, description="how long a page call rings before no-answer")
    voice_gather_seconds: int = Field(8, ge=1, le=60, description="how long a call waits for a key press")
    voice_machine_detection: bool = Field(
        False, description="ask Twilio to detect voicemail: a call answered by a machine counts as not reached"
    )

    # Two-way SMS: replies to pages arrive on POST /v1/twilio/sms/inbound
    sms_replies: bool = Field(False, description="tell people they can reply (the number's webhook must be ours)")
    sms_reply_window_seconds: float = Field(86400.0, gt=0, description="how old a page an SMS reply can answer")
    sms_bare_reply_ambiguity_seconds: float = Field(
        3600.0,
        ge=0,
        description="a reply without a code acts only if no other incident was paged to the number since this long "
        "before the page it would answer (whatever that incident's state): the person may be answering that one",
    )

    # Email over SMTP
    smtp_host: str = Field(
        "",
        description="the SMTP server e-mail pages go through; empty: e-mail is not configured (a page fails at once, "
        "and the level escalates, instead of being retried against a server nobody set up)",
    )
    smtp_port: int = 587
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = "alertrouter@localhost"
    smtp_timeout_seconds: float = Field(10.0, gt=0)
    smtp_ca_file: str = ""
    smtp_validate_certs: bool = True

    # Slack
    slack_api_url: str = "https://slack.com/api"
    slack_bot_token: SecretStr = SecretStr("")
    slack_signing_secret: SecretStr = Field(
        SecretStr(""), description="verifies POST /v1/slack/interactions; set it to get acknowledge/resolve buttons"
    )

    # Acknowledge links, and the router's API every answer (link, SMS reply, key press, button) acts through
    ack_signing_secret: SecretStr = SecretStr("")
    ack_token_ttl_seconds: float = Field(86400.0, gt=0)
    router_url: str = "http://127.0.0.1:8081"
    router_api_token: SecretStr = Field(
        SecretStr(""), description="machine token for the router's API (scopes read+write); people are named in 'by'"
    )

    _retention = field_validator("retention_days")(check_retention)

    @model_validator(mode="after")
    def _callbacks_verifiable(self) -> NotifierSettings:
        """With an API key the auth token setting holds the key's secret, but Twilio signs callbacks with the
        account's auth token: without it every status callback, SMS reply and key press would be refused (403),
        so an undelivered page or an unanswered call would never escalate at once."""
        for prefix, key_sid, webhook_token in (
            ("TWILIO", self.twilio_api_key_sid, self.twilio_webhook_auth_token),
            ("SMS_SECONDARY", self.sms_secondary_api_key_sid, self.sms_secondary_webhook_auth_token),
        ):
            if key_sid and not webhook_token.get_secret_value():
                raise ValueError(
                    f"NOTIFIER_{prefix}_API_KEY_SID is set: set NOTIFIER_{prefix}_WEBHOOK_AUTH_TOKEN to the account's"
                    " auth token, which Twilio signs its callbacks with (the API key's secret cannot verify them)"
                )
        return self

    def twilio_callback_tokens(self) -> list[str]:
        """The secrets a genuine Twilio callback is signed with: each account's auth token."""
        return [
            (self.twilio_webhook_auth_token if self.twilio_api_key_sid else self.twilio_auth_token).get_secret_value(),
            (
                self.sms_secondary_webhook_auth_token
                if self.sms_secondary_api_key_sid
                else self.sms_secondary_auth_token
            ).get_secret_value(),
        ]

    def throttle_limit(self, channel: ContactMethodType) -> int:
        limits = {
            ContactMethodType.SMS: self.throttle_sms_max,
            ContactMethodType.EMAIL: self.throttle_email_max,
            ContactMethodType.SLACK: self.throttle_slack_max,
            ContactMethodType.TEAMS: self.throttle_teams_max,
            ContactMethodType.WEBHOOK: self.throttle_webhook_max,
            ContactMethodType.VOICE: self.throttle_voice_max,
        }
        return limits[channel]
