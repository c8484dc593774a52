"""Router settings: the contract's common variables plus ``ROUTER_``-prefixed ones."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from alertrouter_shared.settings import CommonSettings, _env, check_retention, retention_days

MIN_AUDIT_RETENTION_DAYS = 365


class RouterSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTER_", extra="ignore", populate_by_name=True)

    config_path: str = Field(
        "examples/ownership",
        validation_alias=_env("ALERTROUTER_CONFIG"),
        description="ownership configuration: a YAML file or a directory of YAML files",
    )
    config_poll_seconds: float = Field(
        10.0,
        ge=0,
        validation_alias=_env("ALERTROUTER_CONFIG_POLL_SECONDS"),
        description="how often each process looks for a change of the configuration's files and loads it; 0 = never "
        "(then only SIGHUP and POST /v1/config/reload reload, one process each)",
    )
    host: str = Field("0.0.0.0", description="HTTP listen address")
    port: int = Field(8081, description="HTTP port (SRE API, health, metrics)")
    max_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="largest request body the /v1 API takes; a larger one is refused (413) before it is read in full",
    )
    consumer_group: str = Field("router", description="Kafka consumer group of the alerts consumers")
    batch_max_records: int = Field(500, ge=1, description="records per consumer batch (handled in one transaction)")
    max_event_age_seconds: int = Field(
        900,
        ge=1,
        description="events received longer ago than this (backlog replay) do not page on their own: an Alertmanager "
        "or Grafana alert pages at its next fresh trigger, a CloudWatch or Events v2 trigger a minute later if still "
        "firing",
    )
    clock_skew_seconds: int = Field(
        300, ge=0, description="event times later than receipt plus this are clamped to the receipt time"
    )
    maintenance_recheck_seconds: int = Field(
        60,
        ge=1,
        description="alerts suppressed by maintenance are looked at again at least this often (and at the "
        "window's end)",
    )
    unrouted_recheck_hours: int = Field(
        24,
        ge=0,
        description="after a configuration change, alerts no rule routed that were heard from within this many "
        "hours are routed again (0: only at their next trigger)",
    )
    nobody_reachable_retry_minutes: int = Field(
        5, ge=1, le=1440, description="an incident that no level of its policy reaches tries again this often"
    )
    escalation_poll_seconds: float = Field(1.0, gt=0, description="how often due escalation steps are looked for")
    escalation_batch: int = Field(100, ge=1, description="escalation steps claimed per pass")
    timer_lock_wait_seconds: float = Field(
        2.0,
        gt=0,
        le=30,
        description="how long a timer pass waits for an incident another transaction holds (an alert storm's "
        "batches on its group) before leaving a due step or snooze to the next pass",
    )
    overrides_poll_seconds: float = Field(
        5.0, gt=0, description="how often each process reads the schedule overrides made through the API"
    )
    shift_reminder_poll_seconds: float = Field(
        30.0, gt=0, description="how often shift reminders that have come due are looked for"
    )
    outbox_poll_seconds: float = Field(1.0, gt=0, description="how often delayed and leftover pages are published")
    retention_days: int = retention_days(
        "days of history kept: incidents resolved (and silent) that long ago, with their decisions, pages and "
        "timeline, and decisions, alerts, change events, maintenance windows and drills of no open incident"
    )
    audit_retention_days: int = Field(
        0,
        ge=0,
        description="days of the audit trail kept (who did what through the API); 0 = keep everything, else at "
        f"least {MIN_AUDIT_RETENTION_DAYS}",
    )
    db_pool_size: int = Field(
        10,
        ge=1,
        description="size of each of the process's two PostgreSQL pools (SQLAlchemy: this many kept, as many again "
        "in bursts; asyncpg: this many): at most 3 x this connections per process",
    )
    drill_poll_seconds: float = Field(
        15.0, gt=0, description="how often drills scheduled in the configuration are looked for"
    )
    drill_catch_up_minutes: int = Field(
        15,
        ge=1,
        le=1440,
        description="a scheduled drill not started within this long of its time (the router was down) is recorded "
        "as skipped, never started late",
    )
    notifier_url: str = Field(
        "", description="the notifier's API, for the providers' check of silent drills (empty: not checked)"
    )
    notifier_api_token: SecretStr = Field(SecretStr(""), description="API token (scope read) for the notifier")
    provider_check_timeout_seconds: float = Field(
        20.0, gt=0, description="how long a silent drill waits for the notifier's provider check"
    )

    _retention = field_validator("retention_days")(check_retention)

    @field_validator("audit_retention_days")
    @classmethod
    def _audit_retention(cls, days: int) -> int:
        """A security record outlives the incidents it is about: a year is the least audits ask for."""
        if 0 < days < MIN_AUDIT_RETENTION_DAYS:
            raise ValueError(f"0 (keep everything) or at least {MIN_AUDIT_RETENTION_DAYS} days")
        return days
