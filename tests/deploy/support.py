"""Shared pieces of the deployment tests: the Helm CLI, rendered manifests, and what the services really read.

"What the services read" is computed from their pydantic-settings classes and their Prometheus registry, never
from a list kept here, so the compose file, the chart and the dashboards are checked against the code as it is.
"""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices, AliasPath
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "alertrouter"
VALUES_DIR = Path(__file__).resolve().parent / "values"
KUBE_VERSIONS = ("1.29", "1.34")
DEFAULT_KUBE_VERSION = "1.34.0"
REALISTIC_VALUES = ("minimal", "production", "all-options", "extensions")

SETTINGS_CLASSES = {
    "ingest": ("alertrouter_ingest.settings", "IngestSettings"),
    "router": ("alertrouter_router.settings", "RouterSettings"),
    "notifier": ("alertrouter_notifier.settings", "NotifierSettings"),
}
SERVICE_PACKAGES = ("alertrouter_shared", "alertrouter_ingest", "alertrouter_router", "alertrouter_notifier")
CONTRACT_PORTS = {"ingest": 8080, "router": 8081, "notifier": 8082}


# -- Helm ------------------------------------------------------------------------------------------------------


def helm_binary() -> str:
    """The Helm CLI: the one scripts/install_helm.sh builds, else one on PATH; missing is a failure, not a skip."""
    built = ROOT / ".cache" / "bin" / "helm"
    if built.is_file() and os.access(built, os.X_OK):
        return str(built)
    found = shutil.which("helm")
    if found:
        return found
    pytest.fail(
        "the Helm CLI is missing: run `scripts/install_helm.sh` (it builds the pinned Helm into .cache/bin/helm "
        "with the Go toolchain), or put `helm` on PATH",
        pytrace=False,
    )


def run_helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=120, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}", pytrace=False)
    return result


def values_file(name: str) -> Path:
    return VALUES_DIR / f"{name}.yaml"


def template_args(values: str | None, *extra: str, kube_version: str = DEFAULT_KUBE_VERSION) -> list[str]:
    args = ["template", "rel", str(CHART), "--namespace", "alerting", "--kube-version", kube_version]
    if values is not None:
        args += ["-f", str(values_file(values))]
    return [*args, *extra]


@functools.lru_cache(maxsize=64)
def render_text(values: str | None, *extra: str, kube_version: str = DEFAULT_KUBE_VERSION) -> str:
    return run_helm(*template_args(values, *extra, kube_version=kube_version)).stdout


def render(values: str | None, *extra: str, kube_version: str = DEFAULT_KUBE_VERSION) -> list[dict[str, Any]]:
    """The manifests `helm template` renders (hooks included) for a values file in tests/deploy/values/."""
    text = render_text(values, *extra, kube_version=kube_version)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def by_kind(manifests: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in manifests if m["kind"] == kind]


def named(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for manifest in by_kind(manifests, kind):
        if manifest["metadata"]["name"] == name:
            return manifest
    raise AssertionError(f"no {kind} named {name!r} among {[m['metadata']['name'] for m in by_kind(manifests, kind)]}")


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def service_of(container: dict[str, Any]) -> str:
    """ingest | router | notifier, from the container's command (the service's console script)."""
    command = container["command"][0]
    match = re.fullmatch(r"alertrouter-(ingest|router|notifier)", command)
    assert match, f"container {container['name']} runs {command!r}, not an alertrouter console script"
    return match.group(1)


# -- Settings --------------------------------------------------------------------------------------------------


def settings_class(service: str) -> type[BaseSettings]:
    module_name, class_name = SETTINGS_CLASSES[service]
    cls = getattr(importlib.import_module(module_name), class_name)
    assert issubclass(cls, BaseSettings), f"{module_name}.{class_name} is not a pydantic-settings class"
    return cls  # type: ignore[no-any-return]


def accepted_env_names(cls: type[BaseSettings]) -> set[str]:
    """Upper-cased environment variable names the settings class reads (aliases, else prefix + field name)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names.update(choice.upper() for choice in alias.choices if isinstance(choice, str))
            names.update(str(choice.path[0]).upper() for choice in alias.choices if isinstance(choice, AliasPath))
        elif field.alias:
            names.add(field.alias.upper())
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def secret_env_names(cls: type[BaseSettings]) -> set[str]:
    """Variables of SecretStr fields: credentials that belong in a Secret, never in plain values."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    return {
        f"{prefix}{name}".upper()
        for name, field in cls.model_fields.items()
        if "SecretStr" in repr(field.annotation) and field.validation_alias is None
    }


def unknown_env(service: str, names: set[str]) -> set[str]:
    return names - accepted_env_names(settings_class(service))


# -- Metrics ---------------------------------------------------------------------------------------------------


@functools.cache
def registered_metric_names() -> frozenset[str]:
    """Every series name the services can expose: import their modules, then read the Prometheus registry."""
    from prometheus_client import REGISTRY

    for package_name in SERVICE_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            if ".migrations" in info.name or info.name.endswith("__main__"):
                continue
            importlib.import_module(info.name)
    names: set[str] = set()
    for collector in list(REGISTRY._collector_to_names):
        describe = getattr(collector, "describe", None)
        for family in describe() if describe else []:
            names.update(_series_names(family.name, family.type))
    return frozenset(names)


def _series_names(family: str, kind: str) -> set[str]:
    if kind == "counter":
        return {f"{family}_total", f"{family}_created"}
    if kind == "histogram":
        return {f"{family}_bucket", f"{family}_sum", f"{family}_count", f"{family}_created"}
    if kind == "summary":
        return {family, f"{family}_sum", f"{family}_count", f"{family}_created"}
    return {family}


def metric_names_in(expr: str) -> set[str]:
    """alertrouter_* names in a PromQL expression, less the label names that share the prefix."""
    return set(re.findall(r"\balertrouter_[a-z0-9_]+", expr)) - {"alertrouter_service"}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())
