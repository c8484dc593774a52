"""The chart's workloads, asserted on rendered manifests: probes, hardening, resources, environment, secrets,
configuration and the migrations hook, for the default values and every realistic values file.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from alertrouter_notifier.runtime import DRAIN_SECONDS as NOTIFIER_DRAIN_SECONDS
from alertrouter_router.ownership.loader import load_config
from alertrouter_shared.serving import HTTP_DRAIN_SECONDS
from alertrouter_shared.settings import CommonSettings
from alertrouter_shared.web.readiness import READINESS_SECONDS
from tests.deploy.support import (
    CHART,
    CONTRACT_PORTS,
    REALISTIC_VALUES,
    by_kind,
    load_yaml,
    named,
    pod_spec,
    render,
    run_helm,
    service_of,
    settings_class,
    template_args,
    unknown_env,
    values_file,
)

VALUES_CASES: tuple[str | None, ...] = (None, *REALISTIC_VALUES)
ROLES = {"ingest": [], "router-consumer": ["consume"], "router-api": ["api"], "notifier": ["run"]}
PREFIX = {
    None: "rel-alertrouter",
    "minimal": "rel-alertrouter",
    "production": "rel-alertrouter",
    "all-options": "rel-ar",
    "extensions": "rel-alertrouter",
}


def component_of(manifest: dict[str, Any]) -> str:
    return str(manifest["metadata"]["labels"]["app.kubernetes.io/component"])


def case_id(values: str | None) -> str:
    return values or "defaults"


def deployments(values: str | None) -> dict[str, dict[str, Any]]:
    found = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in by_kind(render(values), "Deployment")}
    assert set(found) == set(ROLES)
    return found


def all_containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    """The chart's own containers (an operator's extraInitContainers run their own programs)."""
    spec = pod_spec(workload)
    containers = [*spec.get("initContainers", []), *spec["containers"]]
    return [c for c in containers if c.get("command", [""])[0].startswith("alertrouter-")]


def operator_env_names(values: str | None) -> set[str]:
    """Variables an operator adds through extraEnv (chart-wide or per component): theirs to name, not the settings'."""
    if values is None:
        return set()
    given = load_yaml(values_file(values))
    lists = [given.get("extraEnv", [])]
    lists += [block.get("extraEnv", []) for block in given.values() if isinstance(block, dict)]
    return {entry["name"] for entries in lists for entry in entries}


def migrations_job(values: str | None) -> dict[str, Any]:
    jobs = by_kind(render(values), "Job")
    assert len(jobs) == 1
    return jobs[0]


def env_names(container: dict[str, Any]) -> set[str]:
    names = [entry["name"] for entry in container.get("env", [])]
    assert len(names) == len(set(names)), f"{container['name']} sets a variable twice: {sorted(names)}"
    return set(names)


def plain_env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


@pytest.mark.parametrize("values", VALUES_CASES, ids=case_id)
def test_probes_hit_the_right_paths_on_the_contract_port(values: str | None) -> None:
    for component, deployment in deployments(values).items():
        container = pod_spec(deployment)["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": CONTRACT_PORTS[service_of(container)]}, component
        paths = {kind: container[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
        assert paths["startupProbe"]["path"] == "/healthz"
        assert paths["livenessProbe"]["path"] == "/healthz"
        assert paths["readinessProbe"]["path"] == "/readyz"
        assert {probe["port"] for probe in paths.values()} == {"http"}
        port_variable = f"{service_of(container).upper()}_PORT"
        assert int(plain_env(container)[port_variable]) == ports["http"], "the service listens where probes look"


# How long each service may take to drain after SIGTERM, from the code: uvicorn's graceful shutdown, then the
# notifier's consumer, retry worker and sends in flight (``Notifier.stop``); ingest's uvicorn has its own 10 s.
DRAIN_BOUNDS = {
    "ingest": 10,
    "router-api": HTTP_DRAIN_SECONDS,
    "notifier": HTTP_DRAIN_SECONDS + 3 * NOTIFIER_DRAIN_SECONDS,
}


@pytest.mark.parametrize("values", VALUES_CASES, ids=case_id)
def test_serving_pods_leave_their_endpoints_before_they_drain(values: str | None) -> None:
    """Ingest, the router API and the notifier sleep in preStop, so Services and Ingress controllers stop sending
    them requests before the process stops accepting connections; the grace period covers the sleep and the
    service's drain."""
    delay = 5
    for component, deployment in deployments(values).items():
        spec = pod_spec(deployment)
        lifecycle = spec["containers"][0].get("lifecycle")
        if component == "router-consumer":  # no traffic but probes and scrapes
            assert lifecycle is None
            continue
        assert lifecycle == {"preStop": {"exec": {"command": ["sleep", str(delay)]}}}, component
        assert spec["terminationGracePeriodSeconds"] >= delay + DRAIN_BOUNDS[component], component


def test_the_pre_stop_sleep_is_configurable_and_counts_against_the_grace_period() -> None:
    def grace_and_sleep(*extra: str) -> dict[str, tuple[int, Any]]:
        return {
            component: (pod_spec(d)["terminationGracePeriodSeconds"], pod_spec(d)["containers"][0].get("lifecycle"))
            for component, d in (
                (d["metadata"]["labels"]["app.kubernetes.io/component"], d)
                for d in by_kind(render(None, *extra), "Deployment")
            )
        }

    longer = grace_and_sleep("--set", "preStopSleepSeconds=20", "--set", "notifier.terminationGracePeriodSeconds=90")
    assert longer["notifier"] == (110, {"preStop": {"exec": {"command": ["sleep", "20"]}}})
    assert longer["ingest"][0] == 20 + 30 and longer["router-consumer"] == (60, None)
    off = grace_and_sleep("--set", "preStopSleepSeconds=0")
    assert {component: lifecycle for component, (_, lifecycle) in off.items()} == dict.fromkeys(ROLES)
    assert off["router-api"][0] == 30


@pytest.mark.parametrize("values", VALUES_CASES, ids=case_id)
def test_the_readiness_probe_waits_longer_than_readiness_takes(values: str | None) -> None:
    """/readyz answers within READINESS_SECONDS (its checks run at once, each bounded): a probe that gave up sooner
    would count a slow but true answer as a failure."""
    for component, deployment in deployments(values).items():
        probe = pod_spec(deployment)["containers"][0]["readinessProbe"]
        assert probe["timeoutSeconds"] > READINESS_SECONDS, component


def test_a_readiness_probe_shorter_than_readiness_is_refused() -> None:
    refused = run_helm(*template_args(None, "--set", "probes.readiness.timeoutSeconds=3"), check=False)
    assert refused.returncode != 0
    assert "probes.readiness.timeoutSeconds is 3: /readyz may take up to 3 s" in refused.stderr


@pytest.mark.parametrize("values", VALUES_CASES, ids=case_id)
def test_every_container_is_hardened(values: str | None) -> None:
    workloads = [*deployments(values).values(), migrations_job(values)]
    for workload in workloads:
        spec = pod_spec(workload)
        assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in all_containers(workload):
            context = container["securityContext"]
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert context["runAsNonRoot"] is True, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"] and "add" not in context["capabilities"], where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/tmp"}, f"{where}: no writable /tmp"


@pytest.mark.parametrize("values", VALUES_CASES, ids=case_id)
def test_every_container_has_requests_and_limits(values: str | None) -> None:
    for workload in [*deployments(values).values(), migrations_job(values)]:
        for container in all_containers(workload):
            resources = container["resources"]
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[kind]), f"{container['name']} {kind}: {resources}"


@pytest.mark.parametrize("values", VALUES_CASES, ids=case_id)
def test_each_component_runs_its_role(values: str | None) -> None:
    for component, deployment in deployments(values).items():
        container = pod_spec(deployment)["containers"][0]
        assert container.get("args", []) == ROLES[component]
        expected = "ingest" if component == "ingest" else component.split("-")[0]
        assert service_of(container) == expected
        assert f"alertrouter-{expected}" in container["image"]


@pytest.mark.parametrize("values", VALUES_CASES, ids=case_id)
def test_environment_names_exist_in_each_services_settings(values: str | None) -> None:
    for workload in [*deployments(values).values(), migrations_job(values)]:
        for container in all_containers(workload):
            service = service_of(container)
            names = env_names(container) - operator_env_names(values)
            assert unknown_env(service, names) == set(), f"{container['name']}: variables {service} does not read"


def test_notifier_credentials_come_from_the_secret_by_default() -> None:
    """Every SecretStr field of the notifier's settings is read from the Secret, never from plain values."""
    cls = settings_class("notifier")
    secret_fields = {
        f"NOTIFIER_{name.upper()}"
        for name, field in cls.model_fields.items()
        if field.annotation is SecretStr and name not in CommonSettings.model_fields  # common ones are unprefixed
    }
    default_list = set(load_yaml(CHART / "values.yaml")["notifier"]["secretEnv"])
    assert secret_fields == default_list, "notifier.secretEnv must list exactly the notifier's secret settings"
    notifier = pod_spec(deployments(None)["notifier"])["containers"][0]
    from_secret = {e["name"] for e in notifier["env"] if "valueFrom" in e}
    assert secret_fields <= from_secret
    for values in REALISTIC_VALUES:
        container = pod_spec(deployments(values)["notifier"])["containers"][0]
        assert not secret_fields & set(plain_env(container)), f"{values}: a credential is a plain variable"


def _notifier_env(*extra: str) -> list[dict[str, Any]]:
    notifier = next(
        d for d in by_kind(render(None, *extra), "Deployment") if d["metadata"]["name"].endswith("notifier")
    )
    env: list[dict[str, Any]] = pod_spec(notifier)["containers"][0]["env"]
    return env


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (("--set", "notifier.publicUrl=https://pager.example.com/"), "https://pager.example.com"),
        (
            ("--set", "notifier.ingress.enabled=true", "--set", "notifier.ingress.hosts[0].host=notify.example.com"),
            "https://notify.example.com",
        ),
        (
            (
                "--set",
                "notifier.publicUrl=https://pager.example.com",
                "--set",
                "notifier.ingress.enabled=true",
                "--set",
                "notifier.ingress.hosts[0].host=notify.example.com",
            ),
            "https://pager.example.com",
        ),
    ],
)
def test_the_notifier_is_told_its_public_url(extra: tuple[str, ...], expected: str) -> None:
    """Acknowledge links and Twilio callbacks point at notifier.publicUrl, else at the notifier's Ingress: never at
    the loopback default, which the notifier refuses with a real Twilio account."""
    from alertrouter_notifier.public_url import PublicUrlError, check_public_url
    from alertrouter_notifier.settings import NotifierSettings

    urls = [e["value"] for e in _notifier_env(*extra) if e["name"] == "NOTIFIER_PUBLIC_URL"]
    assert urls == [expected]
    twilio = {"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "t"}
    check_public_url(NotifierSettings.model_validate({**twilio, "public_url": urls[0]}))
    assert not [e for e in _notifier_env() if e["name"] == "NOTIFIER_PUBLIC_URL"], "nothing to tell: left unset"
    with pytest.raises(PublicUrlError):
        check_public_url(NotifierSettings.model_validate(twilio))  # ... which the notifier refuses with Twilio


def test_an_operators_own_public_url_is_kept() -> None:
    given = ("--set", "notifier.ingress.enabled=true", "--set", "notifier.ingress.hosts[0].host=notify.example.com")
    env = _notifier_env(*given, "--set", "notifier.env.NOTIFIER_PUBLIC_URL=https://mine.example.com")
    assert [e["value"] for e in env if e["name"] == "NOTIFIER_PUBLIC_URL"] == ["https://mine.example.com"]
    listed = ("--set", "notifier.extraEnv[0].name=NOTIFIER_PUBLIC_URL", "--set", "notifier.extraEnv[0].value=x")
    env = _notifier_env(*given, *listed)
    assert [e["value"] for e in env if e["name"] == "NOTIFIER_PUBLIC_URL"] == ["x"]


def test_database_url_is_only_given_to_services_with_a_database() -> None:
    for component, deployment in deployments(None).items():
        container = pod_spec(deployment)["containers"][0]
        has_database = "DATABASE_URL" in env_names(container)
        assert has_database == (component != "ingest"), component
        config_mounted = any(m["name"] == "config" for m in container["volumeMounts"])
        assert config_mounted == (component != "notifier"), f"{component} and the ownership configuration"


def secret_refs(manifests: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    refs = []
    for workload in [*by_kind(manifests, "Deployment"), *by_kind(manifests, "Job")]:
        for container in all_containers(workload):
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.append((ref["name"], ref["key"], bool(ref.get("optional"))))
    return refs


@pytest.mark.parametrize("values", [None, "minimal", "all-options"], ids=case_id)
def test_required_secret_keys_exist_in_the_rendered_secrets(values: str | None) -> None:
    manifests = render(values)
    secrets = {s["metadata"]["name"]: set(s["data"]) for s in by_kind(manifests, "Secret")}
    for name, key, optional in secret_refs(manifests):
        assert name in secrets, f"reference to a Secret the chart does not render: {name}"
        assert optional or key in secrets[name], f"{name} has no key {key}"


def test_production_reads_everything_from_existing_secrets_and_configmap() -> None:
    manifests = render("production")
    assert by_kind(manifests, "Secret") == [], "existing secrets: the chart renders none"
    assert by_kind(manifests, "ConfigMap") == []
    refs = secret_refs(manifests)
    assert {name for name, _, _ in refs} == {"alertrouter-credentials"}
    assert ("alertrouter-credentials", "database-url", False) in refs
    assert ("alertrouter-credentials", "api-token-hashes", True) in refs
    for component, deployment in deployments("production").items():
        volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
        if component == "notifier":
            continue
        assert volumes["config"]["configMap"]["name"] == "oncall-ownership"
        assert volumes["integration-keys"]["secret"]["secretName"] == "alertrouter-integration-keys"
    router = pod_spec(deployments("production")["router-consumer"])["containers"][0]
    assert router["image"] == (
        "registry.example.com/platform/alertrouter-router@sha256:"
        "0f2b9f3c1d5e7a9b2c4d6e8f0a1b3c5d7e9f1a2b3c4d5e6f7a8b9c0d1e2f3a4b"
    )
    ingest = pod_spec(deployments("production")["ingest"])["containers"][0]
    assert ingest["image"] == "registry.example.com/platform/alertrouter-ingest:0.1.0"


@pytest.mark.parametrize("values", ["minimal", "all-options"])
def test_inline_configuration_is_valid_for_the_router(values: str, tmp_path: Path) -> None:
    """Rendered ConfigMap files plus the integration-key Secret, laid out as in the pod, load without errors."""
    manifests = render(values)
    config_dir, keys_dir = tmp_path / "config", tmp_path / "integration-keys"
    config_dir.mkdir()
    keys_dir.mkdir()
    mount = load_yaml(values_file(values))["integrationKeys"].get("mountPath", "/etc/alertrouter/integration-keys")
    for name, text in named(manifests, "ConfigMap", f"{PREFIX[values]}-config")["data"].items():
        (config_dir / name).write_text(text.replace(mount, str(keys_dir)))
    for name, encoded in named(manifests, "Secret", f"{PREFIX[values]}-integration-keys")["data"].items():
        (keys_dir / name).write_bytes(base64.b64decode(encoded))
    loaded = load_config(config_dir, environ={})
    assert loaded.integrations_by_id, "no integration survived loading"
    ingest = pod_spec(deployments(values)["ingest"])["containers"][0]
    assert {m["mountPath"] for m in ingest["volumeMounts"]} >= {mount, plain_env(ingest)["ALERTROUTER_CONFIG"]}


def test_the_default_install_has_a_configuration_the_router_and_ingest_load(tmp_path: Path) -> None:
    """Without config.files or config.existingConfigMap the mounted folder used to be empty, and the router refused
    it at start (ConfigError: no .yaml file), crash-looping: the chart ships an empty, valid configuration then."""
    from alertrouter_ingest.integrations import load_registry

    data = named(render(None), "ConfigMap", "rel-alertrouter-config").get("data") or {}
    for name, text in data.items():
        (tmp_path / name).write_text(text)
    loaded = load_config(tmp_path, environ={})
    assert loaded.integrations_by_id == {} and loaded.config.services == []
    assert len(load_registry(str(tmp_path), environ={})) == 0
    given = named(render("minimal"), "ConfigMap", "rel-alertrouter-config")["data"]
    assert "alertrouter.yaml" not in given, "given files are the whole configuration"


def test_only_what_a_pod_cannot_take_up_while_running_rolls_it() -> None:
    """Ingest and every router process load a changed ConfigMap on their own (ALERTROUTER_CONFIG_POLL_SECONDS), and
    the notifier does not mount it: a configuration change rolls nobody unless asked (config.rollOnChange, or a
    component whose watch is off), and never the notifier. Secrets are read at start: a change rolls who reads it."""

    def annotations(*extra: str) -> dict[str, dict[str, str]]:
        return {
            component_of(d): d["spec"]["template"]["metadata"]["annotations"]
            for d in by_kind(render("minimal", *extra), "Deployment")
        }

    config_change = ("--set-string", "config.files.extra\\.yaml=teams: []")
    ownership = {"ingest", "router-api", "router-consumer"}
    base, changed = annotations(), annotations(*config_change)
    assert changed == base, "a configuration change rolls no pod by default"
    assert all("checksum/config" not in notes for notes in base.values())

    rolled = ("--set", "config.rollOnChange=true")
    on, on_changed = annotations(*rolled), annotations(*rolled, *config_change)
    assert {c for c in on if on[c] != on_changed[c]} == ownership, "rollOnChange rolls ingest and the router only"

    watch_off = ("--set", "routerConsumer.env.ALERTROUTER_CONFIG_POLL_SECONDS=0")
    off, off_changed = annotations(*watch_off), annotations(*watch_off, *config_change)
    assert {c for c in off if off[c] != off_changed[c]} == {"router-consumer"}, "a component that does not watch"
    chart_wide = ("--set", "extraEnv[0].name=ALERTROUTER_CONFIG_POLL_SECONDS", "--set-string", "extraEnv[0].value=0")
    wide, wide_changed = annotations(*chart_wide), annotations(*chart_wide, *config_change)
    assert {c for c in wide if wide[c] != wide_changed[c]} == ownership

    secret = annotations("--set-string", "secrets.notifier.NOTIFIER_SMTP_PASSWORD=new")
    assert {c for c in base if base[c] != secret[c]} == set(ROLES), "every pod reads the chart's Secret"
    key = annotations("--set-string", "integrationKeys.keys.trial-alertmanager=0123456789abcdef0123456789abcdef")
    assert {c for c in base if base[c] != key[c]} == ownership, "key files: ingest and the router"
    assert annotations("--set", "logging.level=DEBUG") == base


@pytest.mark.parametrize("values", VALUES_CASES, ids=case_id)
def test_migrations_run_as_a_hook_before_install_and_upgrade(values: str | None) -> None:
    manifests = render(values)
    job = migrations_job(values)
    hook = job["metadata"]["annotations"]
    assert hook["helm.sh/hook"] == "pre-install,pre-upgrade"
    spec = pod_spec(job)
    assert spec["restartPolicy"] == "Never"
    router, notifier = spec["initContainers"], spec["containers"]
    assert [c["command"] + c["args"][:1] for c in (*router, *notifier)] == [
        ["alertrouter-router", "migrate"],
        ["alertrouter-notifier", "migrate"],
    ], "router first, then notifier"
    for container in (router[0], notifier[0]):
        assert container["args"][1] == "--wait" and int(container["args"][2]) > 0, "each waits for the database"
    # On a first install the release's Secret and ServiceAccount do not exist yet: the hook brings its own.
    hook_objects = {
        (m["kind"], m["metadata"]["name"]): m
        for m in manifests
        if "helm.sh/hook" in m["metadata"].get("annotations", {})
    }
    weight = int(hook["helm.sh/hook-weight"])
    account = spec["serviceAccountName"]
    assert ("ServiceAccount", account) in hook_objects
    assert int(hook_objects[("ServiceAccount", account)]["metadata"]["annotations"]["helm.sh/hook-weight"]) < weight
    for kind, name in hook_objects:
        if kind != "Job":
            policy = hook_objects[(kind, name)]["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
            assert "hook-succeeded" in policy, f"{kind} {name} would outlive the release (Helm keeps hook objects)"
    given = load_yaml(values_file(values)) if values else {}
    operators = {
        given.get("secrets", {}).get("existingSecret"),
        given.get("externalDatabase", {}).get("existingSecret"),
    }
    for name, _, _ in secret_refs([job]):
        if name not in operators:  # the operator's own Secrets exist before the release
            assert int(hook_objects[("Secret", name)]["metadata"]["annotations"]["helm.sh/hook-weight"]) < weight


def test_migrations_can_be_disabled() -> None:
    manifests = render(None, "--set", "migrations.enabled=false")
    assert by_kind(manifests, "Job") == []
    hooks = [m["metadata"].get("annotations", {}).get("helm.sh/hook") for m in manifests]
    assert [hook for hook in hooks if hook] == ["test"], "only the `helm test` pod is a hook then"
