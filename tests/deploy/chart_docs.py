"""The chart README's values table, generated from values.yaml so the two cannot drift.

A key's description is the ``# --`` comment above it in values.yaml (continued by the ``#`` lines that follow).
Run ``uv run python tests/deploy/chart_docs.py`` to rewrite the table between the README's markers; the test
suite fails when the README's table differs from the generated one.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "alertrouter"
BEGIN = "<!-- values-table:begin -->"
END = "<!-- values-table:end -->"
_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):")

# Keys every component has, described once; matched on the end of the dotted path.
COMPONENT_KEYS = {
    "replicaCount": "Pods of this component.",
    "env": "Extra plain environment variables of this component, name -> value (checked against its settings).",
    "resources.requests.cpu": "CPU request.",
    "resources.requests.memory": "Memory request.",
    "resources.limits.cpu": "CPU limit.",
    "resources.limits.memory": "Memory limit.",
    "terminationGracePeriodSeconds": "Seconds between SIGTERM and SIGKILL (after the preStop sleep, if any).",
    "service.type": "Service type.",
    "service.port": "Service port (the container port is fixed by the service).",
    "service.annotations": "Service annotations.",
    "ingress.enabled": "Expose this component through an Ingress.",
    "ingress.className": "IngressClass name.",
    "ingress.annotations": "Ingress annotations (cert-manager, body size, ...).",
    "ingress.hosts": "Hosts and paths; paths default to [{path: /, pathType: Prefix}].",
    "ingress.tls": "TLS entries: [{hosts: [...], secretName: ...}].",
    "autoscaling.enabled": "Scale ingest with a HorizontalPodAutoscaler (replicaCount is then ignored).",
    "autoscaling.minReplicas": "Lowest replica count.",
    "autoscaling.maxReplicas": "Highest replica count.",
    "autoscaling.targetCPUUtilizationPercentage": "Target average CPU utilisation.",
    "pdb.enabled": "Create a PodDisruptionBudget.",
    "pdb.maxUnavailable": "Pods that may be down during voluntary disruptions (or set pdb.minAvailable).",
    "nodeSelector": "Node selector (replaces the chart-wide one).",
    "tolerations": "Tolerations (replace the chart-wide ones).",
    "affinity": "Affinity (replaces the chart-wide one).",
    "podAnnotations": "Pod annotations (merged with the chart-wide ones).",
    "podLabels": "Pod labels (merged with the chart-wide ones).",
    "extraEnv": "Extra environment variables of this component (list, valueFrom allowed), after the chart-wide ones.",
    "extraEnvFrom": "envFrom sources of this component, after the chart-wide ones.",
    "extraVolumes": "Extra volumes of this component's pods, after the chart-wide ones.",
    "extraVolumeMounts": "Extra volume mounts of this component's container, after the chart-wide ones.",
    "extraInitContainers": "Init containers of this component's pods, after the chart-wide ones.",
    "periodSeconds": "Seconds between probes.",
    "timeoutSeconds": "Probe timeout.",
    "failureThreshold": "Failures before the probe gives up.",
}


def key_descriptions(values_text: str) -> dict[str, str]:
    """Dotted key path -> its ``# --`` description, read from the raw YAML lines."""
    descriptions: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    collecting = False
    for line in values_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending, collecting = [stripped.removeprefix("# --").strip()], True
            continue
        if stripped.startswith("#") and collecting:
            pending.append(stripped.removeprefix("#").strip())
            continue
        match = _KEY_LINE.match(line)
        if match is None:
            collecting = False
            if stripped:
                pending = []
            continue
        indent = len(match.group("indent"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group("key")))
        if pending:
            descriptions[".".join(key for _, key in stack)] = " ".join(pending)
        pending, collecting = [], False
    return descriptions


def leaves(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Leaf keys in file order; empty maps and every list count as leaves."""
    found: list[tuple[str, Any]] = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            found.extend(leaves(value, path + "."))
        else:
            found.append((path, value))
    return found


def _default(value: Any) -> str:
    text = json.dumps(value, separators=(", ", ": "))
    if len(text) > 60:
        text = text[:57] + "..."
    return "`" + text.replace("|", "\\|") + "`"


def values_table(values_text: str) -> str:
    descriptions = key_descriptions(values_text)
    values = yaml.safe_load(values_text)
    rows = ["| Key | Default | Description |", "| --- | --- | --- |"]
    for path, value in leaves(values):
        description = descriptions.get(path) or _component_description(path) or _parent_description(path, descriptions)
        description = description.replace("|", "\\|")
        rows.append(f"| `{path}` | {_default(value)} | {description} |")
    return "\n".join(rows)


def _component_description(path: str) -> str:
    for suffix, description in COMPONENT_KEYS.items():
        if path == suffix or path.endswith("." + suffix):
            return description
    return ""


def _parent_description(path: str, descriptions: dict[str, str]) -> str:
    parts = path.split(".")
    for end in range(len(parts) - 1, 0, -1):
        parent = ".".join(parts[:end])
        if parent in descriptions:
            return f"(part of `{parent}`)"
    return ""


def readme_table(readme_text: str) -> str:
    start = readme_text.index(BEGIN) + len(BEGIN)
    return readme_text[start : readme_text.index(END)].strip()


def rewrite_readme() -> None:
    readme = CHART / "README.md"
    text = readme.read_text()
    table = values_table((CHART / "values.yaml").read_text())
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")


if __name__ == "__main__":
    rewrite_readme()
    sys.exit(0)
