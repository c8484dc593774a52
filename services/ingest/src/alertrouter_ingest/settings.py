"""Ingest settings: the shared Kafka/logging fields plus ingest's own, read from ``INGEST_*`` variables.

Every limit here is part of what a sender sees (413, 429, 503), so each one is documented in docs/ingest.md.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict

from alertrouter_ingest.sns.partitions import sns_host_pattern
from alertrouter_shared.events import MAX_LABEL_NAME_CHARS, MAX_LABEL_VALUE_CHARS, MAX_LABELS
from alertrouter_shared.settings import CommonSettings

SNS_HOST_PATTERN = sns_host_pattern()
AIA_HOST_PATTERN = r"^crt\.[a-z0-9.-]+\.amazontrust\.com$"
# A JSON body parsed into Python objects takes up to about 11 times its size (measured: an Alertmanager webhook of
# 5000 minimal alerts, the densest a body of the default limit can be; a typical one takes 2 to 4 times). The byte
# budget (INGEST_MAX_IN_FLIGHT_BYTES) holds that much for each body once it is read, before it is parsed.
PARSED_BODY_FACTOR = 11


class InsufficientDataPolicy(StrEnum):
    """What a CloudWatch INSUFFICIENT_DATA transition becomes: nothing (default), a trigger, or a resolve."""

    IGNORE = "ignore"
    TRIGGER = "trigger"
    RESOLVE = "resolve"


class IngestSettings(CommonSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore", populate_by_name=True)

    host: str = "0.0.0.0"
    port: int = Field(8080, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    access_log: bool = True
    config_path: str | None = Field(
        None,
        validation_alias=AliasChoices("ALERTROUTER_CONFIG", "alertrouter_config", "config_path"),
        description="Ownership configuration: a YAML file or a directory of YAML files (integrations section)",
    )
    config_poll_seconds: float = Field(
        10.0,
        ge=0,
        validation_alias=AliasChoices(
            "ALERTROUTER_CONFIG_POLL_SECONDS", "alertrouter_config_poll_seconds", "config_poll_seconds"
        ),
        description="How often each worker looks for a change of the configuration's files and loads its "
        "integrations; 0 = never (a restart is then needed)",
    )

    # Request protection
    max_body_bytes: int = Field(512 * 1024, ge=1024)
    max_in_flight: int = Field(
        512, ge=1, description="Requests handled at once (bodies read, key known); beyond it: 503 + Retry-After"
    )
    max_in_flight_per_integration: int = Field(
        128, ge=1, description="Requests of one integration handled at once; beyond it: 503 + Retry-After"
    )
    body_read_timeout_seconds: float = Field(
        10.0, gt=0, description="A request body not received within this time is refused (408); holds no slot"
    )
    rate_limit_per_second: float = Field(0.0, ge=0, description="Per-integration token refill rate; 0 = off")
    rate_limit_burst: int = Field(0, ge=0, description="Bucket size; 0 = max(1, rate_limit_per_second)")
    max_alerts_per_request: int = Field(5000, ge=1)
    max_labels_per_alert: int = Field(128, ge=1, le=MAX_LABELS)
    max_annotations_per_alert: int = Field(128, ge=1, le=MAX_LABELS)
    max_label_name_chars: int = Field(1024, ge=1, le=MAX_LABEL_NAME_CHARS)
    max_label_value_chars: int = Field(128 * 1024, ge=1, le=MAX_LABEL_VALUE_CHARS)
    max_annotation_value_chars: int = Field(128 * 1024, ge=1, le=MAX_LABEL_VALUE_CHARS)
    max_produced_bytes_per_request: int = Field(8 * 1024 * 1024, ge=1024)
    max_in_flight_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1,
        description="Memory one worker lets requests hold at once, in bytes: bodies as they arrive, 11 times each body "
        "once read (what parsing makes of it), and the Kafka records built from them until acknowledged; beyond it: "
        "503 + Retry-After. At least 12 x INGEST_MAX_BODY_BYTES + INGEST_MAX_PRODUCED_BYTES_PER_REQUEST",
    )

    # Kafka
    kafka_linger_ms: int = Field(
        0, ge=0, description="Producer linger; 0 still batches: records queue while a partition has a request in flight"
    )
    kafka_producers: int = Field(
        4,
        ge=1,
        le=16,
        description="Transactional producers per process (multi-alert requests): they take turns, as a producer must "
        "wait about 20 ms after a commit before its next transaction",
    )
    kafka_transactional_id_prefix: str | None = Field(
        None, description="Prefix of the producers' transactional ids; default alertrouter-ingest-<hostname>-<pid>"
    )
    kafka_transaction_timeout_ms: int = Field(
        15_000,
        ge=1000,
        description="Coordinator aborts a transaction left open this long (a crashed ingest); consumers wait for it",
    )
    produce_timeout_seconds: float = Field(5.0, gt=0)
    retry_after_seconds: int = Field(5, ge=1)
    readiness_cache_seconds: float = Field(2.0, ge=0)
    readiness_failure_window_seconds: float = Field(10.0, ge=0)

    # SNS / CloudWatch
    sns_cert_host_pattern: str = Field(
        SNS_HOST_PATTERN,
        description="Hosts a SigningCertURL or SubscribeURL may name; default: sns.<region>.<suffix> of every AWS "
        "partition (standard, China, GovCloud, ISO, European Sovereign Cloud), each suffix with its own regions",
    )
    sns_aia_host_pattern: str = AIA_HOST_PATTERN
    sns_certificate_subject: str | None = Field(
        None,
        description="The one name the SNS signing certificate must carry, whatever the region (tests, private "
        "endpoints); default: the name AWS signs with in the SigningCertURL's region",
    )
    sns_ca_bundle: str | None = Field(None, description="PEM trust anchors for SNS signing certs; default certifi")
    sns_tls_ca_bundle: str | None = Field(None, description="PEM trust for HTTPS fetches; default certifi")
    sns_fetch_timeout_seconds: float = Field(5.0, gt=0)
    sns_cert_cache_ttl_seconds: float = Field(24 * 3600.0, ge=0)
    sns_cert_cache_size: int = Field(64, ge=1)
    sns_max_message_age_seconds: float = Field(3600.0, ge=0, description="Replay window on Timestamp; 0 = off")
    sns_max_clock_skew_seconds: float = Field(
        300.0, ge=0, description="A Timestamp further than this in the future is refused (403)"
    )
    cloudwatch_insufficient_data: InsufficientDataPolicy = InsufficientDataPolicy.IGNORE

    @model_validator(mode="after")
    def _largest_request_fits_the_byte_budget(self) -> IngestSettings:
        """A request within every per-request limit must fit an idle worker's budget, else it would be refused
        503 -- retry later -- for ever."""
        largest = (1 + PARSED_BODY_FACTOR) * self.max_body_bytes + self.max_produced_bytes_per_request
        if self.max_in_flight_bytes < largest:
            raise ValueError(
                f"INGEST_MAX_IN_FLIGHT_BYTES ({self.max_in_flight_bytes}) must be at least "
                f"{1 + PARSED_BODY_FACTOR} x INGEST_MAX_BODY_BYTES + INGEST_MAX_PRODUCED_BYTES_PER_REQUEST "
                f"({largest}): the largest request must fit"
            )
        return self

    @model_validator(mode="after")
    def _transaction_outlives_deadline(self) -> IngestSettings:
        if self.kafka_transaction_timeout_ms < self.produce_timeout_seconds * 1000:
            raise ValueError("INGEST_KAFKA_TRANSACTION_TIMEOUT_MS must be at least INGEST_PRODUCE_TIMEOUT_SECONDS")
        return self

    @property
    def effective_burst(self) -> int:
        return self.rate_limit_burst or max(1, int(self.rate_limit_per_second))
