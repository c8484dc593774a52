"""Load the ownership configuration from one YAML file or a directory of them, all-or-nothing.

Files of a directory are read in name order and their sections concatenated; ids must be unique across
files. Every problem found is reported at once in a ``ConfigError``; a configuration that loads is complete:
all references resolve and every integration has its secret key.
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from alertrouter_router.ownership import model
from alertrouter_router.ownership.errors import ConfigError, ConfigIssue
from alertrouter_router.ownership.model import (
    EscalationPolicy,
    Integration,
    OwnershipConfig,
    OwnershipDocument,
    Schedule,
    Service,
)
from alertrouter_router.ownership.people import Team, User
from alertrouter_router.ownership.references import Provenance, check_configuration
from alertrouter_router.ownership.yaml_source import SourceDocument, read_yaml
from alertrouter_shared.integrations import SecretUnavailable, config_files, resolve_secret, secret_field

SECTIONS = tuple(OwnershipDocument.model_fields)


@dataclass(frozen=True)
class LoadedConfig:
    """One validated configuration version, as served until the next successful reload."""

    config: OwnershipConfig
    version: str
    loaded_at: datetime
    files: tuple[str, ...]
    integration_keys: Mapping[str, str] = field(repr=False)

    @property
    def short_version(self) -> str:
        return self.version[:12]

    @property
    def users_by_id(self) -> dict[str, User]:
        return self.config.users_by_id

    @property
    def teams_by_id(self) -> dict[str, Team]:
        return self.config.teams_by_id

    @property
    def schedules_by_id(self) -> dict[str, Schedule]:
        return self.config.schedules_by_id

    @property
    def policies_by_id(self) -> dict[str, EscalationPolicy]:
        return self.config.policies_by_id

    @property
    def services_by_id(self) -> dict[str, Service]:
        return self.config.services_by_id

    @property
    def integrations_by_id(self) -> dict[str, Integration]:
        return self.config.integrations_by_id

    def integration_for_key(self, key: str) -> Integration | None:
        """The enabled integration whose secret key is ``key``; every key is compared in constant time."""
        found: Integration | None = None
        for integration_id, secret in self.integration_keys.items():
            if hmac.compare_digest(secret.encode(), key.encode()):
                found = self.config.integrations_by_id[integration_id]
        return found if found is not None and found.enabled else None


def _known_field_names() -> list[str]:
    names: set[str] = set()
    for value in vars(model).values():
        if isinstance(value, type) and issubclass(value, BaseModel):
            names.update(value.model_fields)
    return sorted(names)


def _pydantic_issue(document: SourceDocument, error: Any) -> ConfigIssue:
    path = tuple(part for part in error["loc"] if isinstance(part, str | int))
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden" and path:
        unknown = str(path[-1])
        close = difflib.get_close_matches(unknown, _known_field_names(), n=1)
        message = f"unknown field {unknown!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
    elif error["type"] == "missing" and path:
        message = f"missing required field {path[-1]!r}"
    elif error["type"] == "string_type" and isinstance(error.get("input"), bool | int | float):
        written = json.dumps(error["input"])
        message = f'expected a string, got {written}: quote it ("{written}") if the text is meant'
    return document.issue(path, message)


def _validate_document(document: SourceDocument) -> tuple[OwnershipDocument | None, list[ConfigIssue]]:
    if not isinstance(document.data, dict):
        return None, [document.issue((), "the top level must be a mapping of sections (teams, users, ...)")]
    try:
        return OwnershipDocument.model_validate(document.data), []
    except ValidationError as exc:
        return None, [_pydantic_issue(document, error) for error in exc.errors()]


def _merge(parsed: list[tuple[SourceDocument, OwnershipDocument]]) -> tuple[OwnershipConfig, Provenance]:
    provenance = Provenance()
    merged: dict[str, list[Any]] = {section: [] for section in SECTIONS}
    for document, content in parsed:
        for section in SECTIONS:
            items = getattr(content, section)
            merged[section].extend(items)
            provenance.add(section, document, len(items))
    return OwnershipConfig(**merged), provenance


def _resolve_secrets(
    config: OwnershipConfig, provenance: Provenance, environ: Mapping[str, str]
) -> tuple[dict[str, str], list[ConfigIssue]]:
    keys: dict[str, str] = {}
    owners: dict[str, str] = {}
    issues: list[ConfigIssue] = []
    for index, integration in enumerate(config.integrations):
        if not integration.enabled:
            continue  # a disabled integration accepts nothing, so its secret may be absent
        document, _ = provenance.origins["integrations"][index]
        field_name = secret_field(integration)
        try:
            key = resolve_secret(integration, Path(document.file).parent, environ)
        except SecretUnavailable as problem:
            issues.append(provenance.issue("integrations", index, (field_name,), str(problem)))
            continue
        if key in owners:
            message = f"integration key already used by integration {owners[key]!r}"
            issues.append(provenance.issue("integrations", index, (field_name,), message))
        owners.setdefault(key, integration.id)
        keys[integration.id] = key
    return keys, issues


def config_version(config: OwnershipConfig) -> str:
    """sha256 of the canonical JSON of the merged configuration: comments and formatting do not count."""
    canonical = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_config(
    path: str | Path,
    *,
    environ: Mapping[str, str] | None = None,
    loaded_at: datetime | None = None,
    secrets: bool = True,
) -> LoadedConfig:
    """Read, validate and cross-check the configuration; raise ``ConfigError`` with every problem found.

    ``secrets=False`` skips reading integration keys (and checking them): offline tools such as ``route test``
    and ``config diff`` run where the keys are not, and the result then accepts no integration key.
    """
    root = Path(path)
    if not root.exists():
        raise ConfigError([ConfigIssue(str(root), None, "<document>", "no such file or directory")])
    files = config_files(root)
    if not files:
        raise ConfigError([ConfigIssue(str(root), None, "<document>", "directory holds no .yaml or .yml file")])
    issues: list[ConfigIssue] = []
    parsed: list[tuple[SourceDocument, OwnershipDocument]] = []
    for file in files:
        try:
            document = read_yaml(file, str(file))
        except ConfigError as exc:
            issues.extend(exc.issues)
            continue
        content, problems = _validate_document(document)
        issues.extend(problems)
        if content is not None:
            parsed.append((document, content))
    if issues:
        raise ConfigError(issues)
    config, provenance = _merge(parsed)
    issues.extend(check_configuration(config, provenance))
    keys: dict[str, str] = {}
    if secrets:
        keys, secret_issues = _resolve_secrets(config, provenance, os.environ if environ is None else environ)
        issues.extend(secret_issues)
    if issues:
        raise ConfigError(issues)
    return LoadedConfig(
        config=config,
        version=config_version(config),
        loaded_at=loaded_at or datetime.now(UTC),
        files=tuple(str(file) for file in files),
        integration_keys=keys,
    )
