"""Integrations (who may send alerts, and as what) loaded from the ownership configuration.

Only the ``integrations:`` section matters here; the router owns the rest. The secret key of an integration
comes from an environment variable (``key_env``), a file (``key_file``, relative to its YAML file) or, for
development only, inline (``key`` with ``development_only: true``), resolved by the shared resolver the router's
loader uses too, so a configuration the router's ``config validate`` passes is one ingest starts with.

Lookup never compares a presented key with a stored key byte by byte: both are hashed with SHA-256 and the
registry is indexed by digest, then the digests are compared with ``hmac.compare_digest``. Timing therefore
reveals nothing about the stored secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from alertrouter_shared.integrations import (
    IntegrationSpec,
    IntegrationType,
    SecretUnavailable,
    config_files,
    resolve_secret,
    secret_field,
)


@dataclass(frozen=True)
class Integration:
    """A resolved integration; its secret is kept only as a digest."""

    id: str
    type: IntegrationType
    service: str | None
    enabled: bool
    allowed_topic_arns: frozenset[str] = field(default_factory=frozenset)
    allow_any_topic: bool = False
    min_signature_version: int = 1
    watchdog: bool = False  # an Alertmanager Watchdog receiver: each webhook is a heartbeat beat


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file, the path and the reason."""


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class IntegrationRegistry:
    """Integrations indexed by the digest of their key."""

    def __init__(self, entries: Mapping[bytes, Integration] | None = None) -> None:
        self._by_digest: dict[bytes, tuple[bytes, Integration]] = {d: (d, i) for d, i in (entries or {}).items()}

    def __len__(self) -> int:
        return len(self._by_digest)

    def lookup(self, key: str, expected: IntegrationType) -> Integration | None:
        """The enabled integration of type ``expected`` whose key is ``key``, else None (unknown = disabled)."""
        digest = key_digest(key)
        stored, found = self._by_digest.get(digest, (b"", None))
        if found is None or not hmac.compare_digest(stored, digest):
            return None
        if not found.enabled or found.type is not expected:
            return None
        return found

    def all(self) -> list[Integration]:
        return [integration for _, integration in self._by_digest.values()]


def load_registry(config_path: str | None, environ: Mapping[str, str] | None = None) -> IntegrationRegistry:
    """Read every integration of the configuration at ``config_path``; raise ConfigError listing every issue."""
    if not config_path:
        return IntegrationRegistry()
    env = os.environ if environ is None else environ
    root = Path(config_path)
    if not root.exists():
        raise ConfigError(f"{root}: the ownership configuration (ALERTROUTER_CONFIG) does not exist")
    issues: list[str] = []
    entries: dict[bytes, Integration] = {}
    seen_ids: dict[str, str] = {}
    for file in config_files(root):
        for where, spec in _read_integrations(file, issues):
            if spec.id in seen_ids:
                issues.append(f"{where}.id: integration id {spec.id!r} is already defined in {seen_ids[spec.id]}")
                continue
            seen_ids[spec.id] = where
            if not spec.enabled:
                continue  # accepts nothing, so it needs no secret (the router's rule too: one resolver)
            try:
                key = resolve_secret(spec, file.parent, env)
            except SecretUnavailable as problem:
                issues.append(f"{where}.{secret_field(spec)}: {problem}")
                continue
            digest = key_digest(key)
            if digest in entries:
                issues.append(f"{where}: integration key already used by integration {entries[digest].id!r}")
                continue
            entries[digest] = Integration(
                spec.id,
                spec.type,
                spec.service,
                spec.enabled,
                frozenset(spec.allowed_topic_arns),
                spec.allow_any_topic,
                spec.min_signature_version,
                spec.watchdog,
            )
    if issues:
        raise ConfigError("invalid integrations configuration:\n  " + "\n  ".join(issues))
    return IntegrationRegistry(entries)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader refusing a key repeated in one mapping: YAML keeps the last silently, so a second
    ``integrations:`` section appended to a file dropped every integration of the first (their keys then
    answered 404), where the router refuses the same files and keeps its configuration."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value != "<<":
                line = key_node.start_mark.line + 1
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key {key_node.value!r} (first at line {seen[key_node.value]})",
                        key_node.start_mark,
                    )
                seen[key_node.value] = line
        return super().construct_mapping(node, deep=deep)


def _read_integrations(file: Path, issues: list[str]) -> list[tuple[str, IntegrationSpec]]:
    try:
        document: Any = yaml.load(file.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 safe
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        issues.append(f"{file}: cannot read YAML: {exc}")
        return []
    if document is None:
        return []
    if not isinstance(document, dict):
        issues.append(f"{file}: the top level must be a mapping of sections")
        return []
    raw = document.get("integrations")
    if raw is None:
        return []
    if not isinstance(raw, list):
        issues.append(f"{file}: integrations: must be a list")
        return []
    specs: list[tuple[str, IntegrationSpec]] = []
    for index, item in enumerate(raw):
        where = f"{file}: integrations[{index}]"
        try:
            specs.append((where, IntegrationSpec.model_validate(item)))
        except ValidationError as exc:
            for error in exc.errors():
                path = "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in error["loc"])
                issues.append(f"{where}{path}: {error['msg']}")
    return specs
