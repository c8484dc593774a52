"""The Helm chart lints, renders and validates offline against Kubernetes' own schemas, for several versions.

`helm lint` and `helm template` run with the default values and with realistic values files (minimal, production
with existing secrets and ingress, all options on); every rendered object is checked with `kubernetes-validate`
in strict mode (unknown fields are errors) for two Kubernetes versions. Custom resources (ServiceMonitor,
PrometheusRule) have no schema there and are checked in test_helm_manifests.py. values.schema.json must turn
wrong types into clear errors.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from tests.deploy.support import (
    CHART,
    KUBE_VERSIONS,
    REALISTIC_VALUES,
    render,
    run_helm,
    template_args,
    values_file,
)

VALUES_CASES: tuple[str | None, ...] = (None, *REALISTIC_VALUES)
CUSTOM_RESOURCE_GROUPS = ("monitoring.coreos.com/", "kafka.strimzi.io/")


def case_id(values: str | None) -> str:
    return values or "defaults"


@pytest.mark.parametrize("values", VALUES_CASES, ids=case_id)
def test_helm_lint_strict(values: str | None) -> None:
    args = ["lint", str(CHART), "--strict", "--kube-version", "1.34.0"]
    if values is not None:
        args += ["-f", str(values_file(values))]
    result = run_helm(*args)
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("values", VALUES_CASES, ids=case_id)
def test_rendered_manifests_are_valid_kubernetes(values: str | None, kube_version: str) -> None:
    manifests = render(values, kube_version=f"{kube_version}.0")
    assert manifests, "nothing rendered"
    problems: list[str] = []
    for manifest in manifests:
        if manifest["apiVersion"].startswith(CUSTOM_RESOURCE_GROUPS):
            continue
        try:
            kubernetes_validate.validate(manifest, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{manifest['kind']}/{manifest['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert problems == []


def test_kubernetes_validate_catches_a_broken_manifest() -> None:
    """The check above is not vacuous: a typo in a Deployment fails strict validation."""
    deployment: dict[str, Any] = next(m for m in render(None) if m["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[0], strict=True)


def test_every_realistic_values_file_is_used() -> None:
    files = {path.stem for path in values_file("minimal").parent.glob("*.yaml")}
    assert set(REALISTIC_VALUES) <= files
    assert {name for name in files if not name.startswith("bad-")} == set(REALISTIC_VALUES)


def test_kubernetes_older_than_supported_is_refused() -> None:
    result = run_helm(*template_args(None, kube_version="1.24.0"), check=False)
    assert result.returncode != 0
    assert "kubeVersion" in result.stderr or "incompatible" in result.stderr


# -- values.schema.json -------------------------------------------------------------------------------------------


def test_bad_types_fail_schema_validation_with_clear_messages() -> None:
    result = run_helm(*template_args("bad-types"), check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    for path, complaint in (
        ("/ingest/replicaCount", "want integer"),
        ("/kafka/topicPartitions", "want integer"),
        ("/kafka/createTopics", "want boolean"),
        ("/notifier/resources/requests/memory", "does not match pattern"),
    ):
        assert path in result.stderr, f"no error names {path}:\n{result.stderr}"
        assert complaint in result.stderr
    assert result.stdout == "", "nothing is rendered when the values are invalid"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (["--set", "ingest.replicas=3"], "additional properties 'replicas' not allowed"),
        (["--set", "logging.format=xml"], "/logging/format"),
        (["--set", "kafka.bootstrapServers=kafka"], "/kafka/bootstrapServers"),
        (["--set-string", "secrets.apiTokenHashes[0]=not-a-hash"], "/secrets/apiTokenHashes/0"),
        (["--set", "secrets.notifier.TWILIO_TOKEN=x"], "/secrets/notifier"),
        (["--set", "notifier.env.lowercase=x"], "/notifier/env"),
        (["--set", "config.files.teams\\.json=x"], "/config/files"),
        (["--set", "ingest.service.port=70000"], "/ingest/service/port"),
        (["--set", "image.digests.router=latest"], "/image/digests/router"),
        (["--set", "secrets.databaseUrl=mysql://u@db/x"], "/secrets/databaseUrl"),
    ],
)
def test_schema_rejects_wrong_values(setting: list[str], expected: str) -> None:
    result = run_helm(*template_args(None, *setting), check=False)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (["--set", "secrets.databaseUrl="], "secrets.databaseUrl is empty"),
        (["--set", "ingest.ingress.enabled=true"], "ingest.ingress.enabled is true but ingest.ingress.hosts is empty"),
        (["--set-string", "config.files.notes\\.txt=x"], "/config/files"),
    ],
)
def test_inconsistent_values_fail_with_a_message_that_says_what_to_do(setting: list[str], expected: str) -> None:
    result = run_helm(*template_args(None, *setting), check=False)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
