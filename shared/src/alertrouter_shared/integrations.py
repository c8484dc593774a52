"""The ``integrations:`` section of the ownership configuration: one schema read by ingest and the router.

Ingest needs only this section (who may send, as what, bound to which service); the router validates the whole
configuration. Keeping the model here means the two can never disagree about what a valid integration is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
EVENTS_V2_KEY_LENGTH = 32
_EVENTS_V2_KEY = re.compile(r"^[A-Za-z0-9]{32}$")


class IntegrationType(StrEnum):
    ALERTMANAGER = "alertmanager"
    CLOUDWATCH = "cloudwatch"
    EVENTS_V2 = "events_v2"
    GRAFANA = "grafana"
    HEARTBEAT = "heartbeat"


class IntegrationSpec(BaseModel):
    """An inbound source. Its secret key comes from ``key_env`` or ``key_file``; inline ``key`` is dev only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Identifier
    type: IntegrationType
    service: str | None = None
    key_env: str | None = None
    key_file: str | None = None
    key: str | None = Field(default=None, repr=False)
    development_only: bool = False
    enabled: bool = True
    allowed_topic_arns: list[str] = Field(default_factory=list)
    allow_any_topic: bool = Field(
        False, description="cloudwatch: accept any SNS topic (any AWS account holding the key); config validate warns"
    )
    min_signature_version: int = Field(
        1, ge=1, le=2, description="cloudwatch: refuse SNS SignatureVersion below this (2 = SHA-256 only)"
    )
    interval_seconds: int | None = Field(
        None, ge=10, le=7 * 86400, description="heartbeat, or an alertmanager watchdog: a beat is expected this often"
    )
    grace_seconds: int = Field(60, ge=0, le=86400, description="heartbeat: how late a beat may be before it pages")
    watchdog: bool = Field(
        False, description="alertmanager: the Watchdog receiver; every webhook is a heartbeat beat, never an alert"
    )
    description: str = ""

    @property
    def beats(self) -> bool:
        """A heartbeat integration, or an Alertmanager Watchdog receiver: its silence is the alert."""
        return self.type is IntegrationType.HEARTBEAT or self.watchdog

    @model_validator(mode="after")
    def _heartbeat_fields(self) -> IntegrationSpec:
        if self.watchdog and self.type is not IntegrationType.ALERTMANAGER:
            raise ValueError("watchdog: true applies only to alertmanager integrations")
        if self.beats and (self.interval_seconds is None or not self.service):
            raise ValueError("a heartbeat (or watchdog) integration names its service and its interval_seconds")
        if not self.beats and self.interval_seconds is not None:
            raise ValueError("interval_seconds applies only to heartbeat and watchdog integrations")
        return self

    @model_validator(mode="after")
    def _one_secret_reference(self) -> IntegrationSpec:
        given = [name for name in ("key_env", "key_file", "key") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("an integration has exactly one of key_env, key_file or key (development only)")
        if self.key is not None and not self.development_only:
            raise ValueError("inline 'key' is for development only: set development_only: true, or use key_env")
        if self.type is not IntegrationType.CLOUDWATCH:
            if self.allowed_topic_arns or self.allow_any_topic or self.min_signature_version != 1:
                raise ValueError(
                    "allowed_topic_arns, allow_any_topic and min_signature_version apply only to cloudwatch "
                    "integrations"
                )
        elif not self.allowed_topic_arns and not self.allow_any_topic:
            raise ValueError(
                "a cloudwatch integration lists its SNS topics in allowed_topic_arns (or, knowingly, sets "
                "allow_any_topic: true -- then any AWS account holding the key can subscribe its own topic)"
            )
        elif self.allowed_topic_arns and self.allow_any_topic:
            raise ValueError("allowed_topic_arns and allow_any_topic: true contradict each other; keep one")
        return self


def config_files(path: Path) -> list[Path]:
    """The YAML files making up the configuration at ``path`` (one file, or a directory's files by name)."""
    if path.is_dir():
        return sorted(
            child
            for child in path.iterdir()
            if child.is_file() and child.suffix in (".yaml", ".yml") and not child.name.startswith(".")
        )
    return [path]


def secret_field(spec: IntegrationSpec) -> str:
    """The field holding ``spec``'s secret reference (``key``, ``key_env`` or ``key_file``)."""
    return next(name for name in ("key", "key_env", "key_file") if getattr(spec, name) is not None)


class SecretUnavailable(ValueError):
    """An enabled integration's secret cannot be used; the message is the problem to report at its field."""


def resolve_secret(spec: IntegrationSpec, base: Path, environ: Mapping[str, str]) -> str:
    """The key of an enabled integration, or SecretUnavailable: the one rule ingest and the router share.

    The key is stripped of surrounding whitespace and must not be empty, wherever it comes from; a relative
    ``key_file`` is relative to ``base`` (its YAML file's directory); an events_v2 key is a PagerDuty routing key
    (32 letters or digits). A disabled integration accepts nothing, so callers do not resolve its secret at all.
    """
    if spec.key is not None:
        value = spec.key.strip()
        missing = "the inline key is empty"
    elif spec.key_env is not None:
        value = environ.get(spec.key_env, "").strip()
        missing = f"environment variable {spec.key_env!r} is not set"
    else:
        assert spec.key_file is not None
        path = Path(spec.key_file)
        path = path if path.is_absolute() else base / path
        try:
            value = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise SecretUnavailable(f"missing secret: cannot read key_file {str(path)!r}: {reason}") from exc
        missing = f"key_file {str(path)!r} is empty"
    if not value:
        raise SecretUnavailable(f"missing secret: {missing}")
    if spec.type is IntegrationType.EVENTS_V2 and not _EVENTS_V2_KEY.match(value):
        raise SecretUnavailable(
            f"events_v2 integration keys are {EVENTS_V2_KEY_LENGTH} letters or digits (a routing_key); "
            f"this one has {len(value)} characters"
        )
    return value
