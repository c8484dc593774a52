"""The ``integrations:`` section of the ownership configuration: one schema read by ingest and the router.

Ingest needs only this section (who may send, as what, bound to which service); the router validates the whole
configuration. Keeping the model here means the two can never disagree about what a valid integration is.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
EVENTS_V2_KEY_LENGTH = 32


class IntegrationType(StrEnum):
    ALERTMANAGER = "alertmanager"
    CLOUDWATCH = "cloudwatch"
    EVENTS_V2 = "events_v2"


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
    description: str = ""

    @model_validator(mode="after")
    def _one_secret_reference(self) -> IntegrationSpec:
        given = [name for name in ("key_env", "key_file", "key") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("an integration has exactly one of key_env, key_file or key (development only)")
        if self.key is not None and not self.development_only:
            raise ValueError("inline 'key' is for development only: set development_only: true, or use key_env")
        if self.allowed_topic_arns and self.type is not IntegrationType.CLOUDWATCH:
            raise ValueError("allowed_topic_arns applies only to cloudwatch integrations")
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
