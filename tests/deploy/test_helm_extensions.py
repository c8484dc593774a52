"""The chart's extension points and Kafka security, asserted on what `helm template` renders.

tests/deploy/values/extensions.yaml uses them the way an operator would; it is also one of the realistic values
files, so `helm lint --strict`, the schema and kubernetes-validate (strict, two versions) cover it too.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from alertrouter_shared.settings import CommonSettings
from alertrouter_shared.topics import all_topics, durability_configs
from tests.deploy.support import (
    CHART,
    by_kind,
    named,
    pod_spec,
    render,
    run_helm,
    template_args,
)

PREFIX = "rel-alertrouter"
EXTRA_OBJECTS = ("rel-extra-env", "rel-from-string")


def workloads(values: str | None, *extra: str) -> list[dict[str, Any]]:
    manifests = render(values, *extra)
    return [*by_kind(manifests, "Deployment"), *by_kind(manifests, "Job")]


def main_container(workload: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = pod_spec(workload)["containers"][0]
    return container


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {entry["name"]: entry.get("value", entry.get("valueFrom")) for entry in container.get("env", [])}


# -- Kafka TLS and SASL ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tls", "sasl", "protocol"),
    [(False, False, "PLAINTEXT"), (True, False, "SSL"), (False, True, "SASL_PLAINTEXT"), (True, True, "SASL_SSL")],
)
def test_kafka_security_protocol_follows_tls_and_sasl(tls: bool, sasl: bool, protocol: str) -> None:
    extra = ["--set", f"kafka.tls.enabled={str(tls).lower()}", "--set", f"kafka.sasl.enabled={str(sasl).lower()}"]
    extra += ["--set", "kafka.sasl.existingSecret=kafka-user"]
    for deployment in by_kind(render(None, *extra), "Deployment"):
        env = env_of(main_container(deployment))
        assert env["KAFKA_SECURITY_PROTOCOL"] == protocol
        assert ("KAFKA_SASL_PASSWORD_FILE" in env) is sasl
        volumes = {v["name"] for v in pod_spec(deployment)["volumes"]}
        assert ("kafka-sasl" in volumes) is sasl


def test_kafka_credentials_are_files_from_the_named_secrets_and_the_services_accept_them() -> None:
    for deployment in by_kind(render("extensions"), "Deployment"):
        container = main_container(deployment)
        env = env_of(container)
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        secrets = {v["name"]: v["secret"]["secretName"] for v in pod_spec(deployment)["volumes"] if "secret" in v}
        expected_files = {
            "KAFKA_SSL_CA_FILE": ("kafka-ca", "alertrouter-kafka-cluster-ca-cert", "ca.crt"),
            "KAFKA_SSL_CERT_FILE": ("kafka-client-cert", "alertrouter-kafka-user", "user.crt"),
            "KAFKA_SSL_KEY_FILE": ("kafka-client-cert", "alertrouter-kafka-user", "user.key"),
            "KAFKA_SASL_USERNAME_FILE": ("kafka-sasl", "alertrouter-kafka-scram", "username"),
            "KAFKA_SASL_PASSWORD_FILE": ("kafka-sasl", "alertrouter-kafka-scram", "password"),
        }
        for variable, (volume, secret, key) in expected_files.items():
            assert env[variable] == f"{mounts[volume]}/{key}", variable
            assert secrets[volume] == secret
        kafka_env = {k: v for k, v in env.items() if k.startswith("KAFKA_") and isinstance(v, str)}
        settings = CommonSettings.model_validate({k.lower(): v for k, v in kafka_env.items()})
        assert (settings.kafka_security_protocol, settings.kafka_sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-256")


def test_a_sasl_user_name_can_be_a_plain_value() -> None:
    """A Strimzi KafkaUser's Secret holds the password only."""
    ingest = named(by_kind(render("production"), "Deployment"), "Deployment", f"{PREFIX}-ingest")
    env = env_of(main_container(ingest))
    assert env["KAFKA_SASL_USERNAME"] == "alertrouter"
    assert "KAFKA_SASL_USERNAME_FILE" not in env
    assert env["KAFKA_SSL_CA_FILE"].endswith("/ca.crt") and "KAFKA_SSL_CERT_FILE" not in env


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (["--set", "kafka.sasl.enabled=true"], "/kafka/sasl"),
        (
            [
                "--set",
                "kafka.sasl.enabled=true",
                "--set",
                "kafka.sasl.existingSecret=s",
                "--set",
                "kafka.sasl.mechanism=GSSAPI",
            ],
            "/kafka/sasl/mechanism",
        ),
        (["--set", "kafka.strimziTopics.enabled=true"], "/kafka/strimziTopics"),
        (["--set", "extraEnv[0].value=x"], "/extraEnv/0"),
        (
            ["--set", "ingest.extraVolumeMounts[0].name=x", "--set", "ingest.extraVolumeMounts[0].mountPath=rel"],
            "/ingest/extraVolumeMounts/0/mountPath",
        ),
        (["--set", "externalDatabase.port=0"], "/externalDatabase/port"),
        (["--set", "networkPolicy.egress.ingestHttpsCidrs[0]=anywhere"], "/networkPolicy/egress/ingestHttpsCidrs/0"),
    ],
)
def test_schema_rejects_wrong_extension_values(setting: list[str], expected: str) -> None:
    result = run_helm(*template_args(None, *setting), check=False)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr


# -- extraEnv, extraEnvFrom, extraVolumes, extraVolumeMounts, extraInitContainers -----------------------------------


def test_chart_wide_extras_reach_every_container_of_the_chart_envfrom_all_but_the_migrations_hook() -> None:
    for workload in workloads("extensions"):
        spec = pod_spec(workload)
        own = [
            c
            for c in [*spec.get("initContainers", []), *spec["containers"]]
            if c.get("command", [""])[0].startswith("alertrouter-")
        ]
        for container in own:
            names = [entry["name"] for entry in container["env"]]
            assert names[names.index("PGSSLROOTCERT") + 1] == "LOG_LEVEL_HINT", "extraEnv keeps its order"
            assert env_of(container)["LOG_LEVEL_HINT"] == {
                "configMapKeyRef": {"name": "alertrouter-extra", "key": "hint", "optional": True}
            }
            if workload["kind"] == "Job":  # the migrations hook: its own envFrom only (see below)
                assert container["envFrom"] == [{"secretRef": {"name": "alertrouter-pg-session"}}]
            else:
                assert {"configMapRef": {"name": "alertrouter-extra-env"}} in container["envFrom"]
            assert {"name": "pg-ca", "mountPath": "/etc/alertrouter/pg-ca", "readOnly": True} in container[
                "volumeMounts"
            ]
        assert {"name": "pg-ca", "secret": {"secretName": "alertrouter-pg-ca"}} in spec["volumes"]


def test_component_extras_stay_in_their_component() -> None:
    for deployment in by_kind(render("extensions"), "Deployment"):
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        spec = pod_spec(deployment)
        env = env_of(main_container(deployment))
        init = [c["name"] for c in spec.get("initContainers", [])]
        if component == "notifier":
            assert env["NOTIFIER_TWILIO_ACCOUNT_SID"] == {"secretKeyRef": {"name": "twilio", "key": "account-sid"}}
            assert init == ["wait-for-smtp-relay"]
            names = [entry["name"] for entry in main_container(deployment)["env"]]
            assert names.index("NOTIFIER_TWILIO_ACCOUNT_SID") > names.index("PGSSLROOTCERT"), (
                "component's after chart's"
            )
        else:
            assert "NOTIFIER_TWILIO_ACCOUNT_SID" not in env
            assert init == []


def test_without_extras_nothing_is_added() -> None:
    for workload in workloads(None):
        spec = pod_spec(workload)
        assert "envFrom" not in main_container(workload)
        assert all(v["name"] in {"tmp", "config", "integration-keys"} for v in spec["volumes"])
        if workload["kind"] == "Deployment":
            assert "initContainers" not in spec


# -- the migrations hook and objects of the same release ---------------------------------------------------------------
#
# Helm runs the pre-install/pre-upgrade hook before the release's own objects exist: a hook that refers to a Secret
# or ConfigMap created through extraObjects waits for it (CreateContainerConfigError, or a volume that cannot mount)
# until activeDeadlineSeconds, and a first install hangs, then fails.


def set_json(key: str, value: object) -> list[str]:
    return ["--set-json", f"{key}={json.dumps(value)}"]


PROVIDER = "rel-provider-env"
PROVIDER_ENV = {"secretRef": {"name": PROVIDER}}
PROVIDER_KEY = {"name": PROVIDER, "key": "NOTIFIER_SLACK_BOT_TOKEN"}
# The chart-wide extraEnvFrom names a Secret that extraObjects creates in the same release.
SAME_RELEASE = [
    *set_json("extraEnvFrom", [PROVIDER_ENV]),
    *set_json(
        "extraObjects",
        [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "{{ .Release.Name }}-provider-env"},
                "stringData": {"NOTIFIER_SLACK_BOT_TOKEN": "xoxb-1"},
            }
        ],
    ),
]


def as_hook(weight: str) -> list[str]:
    """The same Secret, made a pre-install/pre-upgrade hook of the given weight (the Job's is 0)."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "{{ .Release.Name }}-provider-env",
            "annotations": {"helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": weight},
        },
        "stringData": {"NOTIFIER_SLACK_BOT_TOKEN": "xoxb-1"},
    }
    return set_json("extraObjects", [secret])


def migrations_containers(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    spec = pod_spec(named(manifests, "Job", f"{PREFIX}-migrations"))
    containers: list[dict[str, Any]] = [*spec["initContainers"], *spec["containers"]]
    assert [c["name"] for c in containers] == ["router-migrate", "notifier-migrate"]
    return containers


def test_the_migrations_hook_leaves_out_extra_env_from_that_the_release_itself_creates() -> None:
    manifests = render(None, *SAME_RELEASE)
    assert "hook" not in str(named(manifests, "Secret", "rel-provider-env")["metadata"].get("annotations"))
    for deployment in by_kind(manifests, "Deployment"):
        assert main_container(deployment)["envFrom"] == [PROVIDER_ENV]
    for container in migrations_containers(manifests):
        assert "envFrom" not in container, "the hook would wait for a Secret made after it"
        assert {"DATABASE_URL", "LOG_LEVEL", "LOG_FORMAT"} <= set(env_of(container))


def test_the_migrations_hook_has_its_own_env_from_and_inherits_the_chart_wide_one_on_request() -> None:
    own = {"configMapRef": {"name": "pg-session-settings"}}
    shared = {"secretRef": {"name": "made-before-the-release"}}
    values = [*set_json("extraEnvFrom", [shared]), *set_json("migrations.extraEnvFrom", [own])]
    for container in migrations_containers(render(None, *values)):
        assert container["envFrom"] == [own]
    inheriting = render(None, *values, "--set", "migrations.inheritExtraEnvFrom=true")
    for container in migrations_containers(inheriting):
        assert container["envFrom"] == [shared, own], "the chart-wide sources first, as in the Deployments"
    for deployment in by_kind(inheriting, "Deployment"):
        assert main_container(deployment)["envFrom"] == [shared], "the hook's own sources stay in the hook"


@pytest.mark.parametrize(
    ("setting", "source"),
    [
        (["--set", "migrations.inheritExtraEnvFrom=true"], "envFrom"),
        (set_json("migrations.extraEnvFrom", [PROVIDER_ENV]), "envFrom"),
        (set_json("extraEnv", [{"name": "PGPASSFILE", "valueFrom": {"secretKeyRef": PROVIDER_KEY}}]), "extraEnv"),
        (
            set_json("extraVolumes", [{"name": "pg", "projected": {"sources": [{"secret": {"name": PROVIDER}}]}}]),
            "extraVolumes",
        ),
        (set_json("imagePullSecrets", [{"name": PROVIDER}]), "imagePullSecrets"),
    ],
)
def test_a_hook_that_would_wait_for_an_object_of_its_own_release_is_refused(setting: list[str], source: str) -> None:
    result = run_helm(*template_args(None, *SAME_RELEASE, *setting), check=False)
    assert result.returncode != 0
    assert f"the hook Job's {source} refers to Secret/rel-provider-env, which extraObjects creates" in result.stderr
    assert "helm.sh/hook: pre-install,pre-upgrade" in result.stderr, "it tells the way out"


def test_an_extra_object_made_a_hook_before_the_job_may_be_given_to_the_hook() -> None:
    inheriting = ["--set", "migrations.inheritExtraEnvFrom=true"]
    manifests = render(None, *SAME_RELEASE, *as_hook("-5"), *inheriting)
    secret = named(manifests, "Secret", "rel-provider-env")
    assert secret["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0
    for container in migrations_containers(manifests):
        assert container["envFrom"] == [PROVIDER_ENV]
    # a weight above the Job's 0: created after it (hooks run in weight order), so it would wait again
    result = run_helm(*template_args(None, *SAME_RELEASE, *as_hook("5"), *inheriting), check=False)
    assert result.returncode != 0 and "refers to Secret/rel-provider-env" in result.stderr


def test_optional_references_and_component_extras_do_not_hold_the_hook_back() -> None:
    optional = set_json(
        "extraEnv", [{"name": "HINT", "valueFrom": {"secretKeyRef": {**PROVIDER_KEY, "optional": True}}}]
    )
    component = set_json("notifier.extraEnv", [{"name": "PGPASSFILE", "valueFrom": {"secretKeyRef": PROVIDER_KEY}}])
    manifests = render(None, *SAME_RELEASE, *optional, *component)
    for container in migrations_containers(manifests):
        assert "PGPASSFILE" not in env_of(container) and "HINT" in env_of(container)


def test_the_migrations_hooks_own_env_and_volumes_reach_only_the_hook() -> None:
    values = [
        "--set-json",
        'migrations.extraEnv=[{"name": "PGCONNECT_TIMEOUT", "value": "10"}]',
        "--set-json",
        'migrations.extraVolumes=[{"name": "pg-client", "secret": {"secretName": "pg-client-cert"}}]',
        "--set-json",
        'migrations.extraVolumeMounts=[{"name": "pg-client", "mountPath": "/etc/pg-client", "readOnly": true}]',
    ]
    manifests = render(None, *values)
    for container in migrations_containers(manifests):
        assert env_of(container)["PGCONNECT_TIMEOUT"] == "10"
        assert {"name": "pg-client", "mountPath": "/etc/pg-client", "readOnly": True} in container["volumeMounts"]
    job = pod_spec(named(manifests, "Job", f"{PREFIX}-migrations"))
    assert {"name": "pg-client", "secret": {"secretName": "pg-client-cert"}} in job["volumes"]
    for deployment in by_kind(manifests, "Deployment"):
        assert "PGCONNECT_TIMEOUT" not in env_of(main_container(deployment))
        assert all(v["name"] != "pg-client" for v in pod_spec(deployment)["volumes"])


# -- labels, annotations, extra objects -----------------------------------------------------------------------------


def test_common_labels_are_on_every_object_the_chart_renders() -> None:
    for manifest in render("extensions"):
        if manifest["metadata"]["name"] in EXTRA_OBJECTS:
            continue  # the operator's own manifests
        labels = manifest["metadata"]["labels"]
        assert labels["example.com/cost-centre"] == "sre-1234", f"{manifest['kind']}/{manifest['metadata']['name']}"
        assert labels["example.com/team"] == "platform"


def test_pod_annotations_reach_every_deployment() -> None:
    for deployment in by_kind(render("extensions"), "Deployment"):
        assert deployment["spec"]["template"]["metadata"]["annotations"]["example.com/scrape-logs"] == "true"


def test_extra_objects_are_rendered_through_tpl() -> None:
    manifests = render("extensions")
    assert EXTRA_OBJECTS[0] == "rel-extra-env"
    assert named(manifests, "ConfigMap", "rel-extra-env")["data"] == {"EXTRA_FLAG": "on"}
    assert named(manifests, "ConfigMap", "rel-from-string")["data"] == {"namespace": "alerting"}


# -- externalDatabase -------------------------------------------------------------------------------------------------


def test_external_database_builds_the_url_and_takes_the_password_from_its_secret() -> None:
    manifests = render("extensions")
    for workload in workloads("extensions"):
        for container in [*pod_spec(workload).get("initContainers", []), *pod_spec(workload)["containers"]]:
            env = env_of(container)
            if "DATABASE_URL" not in env:
                continue
            assert (
                env["DATABASE_URL"]
                == "postgresql+asyncpg://alertrouter_app@pg.example.internal:6432/alerting?ssl=verify-full"
            )
            assert env["DATABASE_PASSWORD"] == {"secretKeyRef": {"name": "alertrouter-pg", "key": "pg-password"}}
            settings = CommonSettings(database_url=env["DATABASE_URL"], database_password="pa:ss@word")  # type: ignore[arg-type]
            assert settings.database_url.startswith("postgresql+asyncpg://alertrouter_app:pa%3Ass%40word@pg.example")
    secret = named(manifests, "Secret", f"{PREFIX}")
    assert "DATABASE_URL" not in (secret.get("data") or {}), "no URL is stored when it is built from parts"
    assert [s["metadata"]["name"] for s in by_kind(manifests, "Secret")] == [PREFIX], "no hook copy of a URL"


def test_external_database_without_password_secret_sets_no_password() -> None:
    router = by_kind(render(None, "--set", "externalDatabase.host=db", "--set", "secrets.databaseUrl="), "Deployment")
    for deployment in router:
        env = env_of(main_container(deployment))
        if "DATABASE_URL" in env:
            assert env["DATABASE_URL"] == "postgresql+asyncpg://alertrouter@db:5432/alertrouter"
            assert "DATABASE_PASSWORD" not in env


# -- helm test ---------------------------------------------------------------------------------------------------------


def test_helm_test_pod_asks_readiness_of_the_three_services_through_their_services() -> None:
    manifests = render("extensions")
    pod = named(manifests, "Pod", f"{PREFIX}-test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    container = pod["spec"]["containers"][0]
    urls = container["args"][1:]
    services = {s["metadata"]["name"]: s["spec"]["ports"][0]["port"] for s in by_kind(manifests, "Service")}
    expected = [f"http://{PREFIX}-{c}:{services[f'{PREFIX}-{c}']}/readyz" for c in ("ingest", "router-api", "notifier")]
    assert urls == expected
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "alertrouter-ingest" in container["image"]
    assert render(None, "--set", "tests.enabled=false") and not by_kind(
        render(None, "--set", "tests.enabled=false"), "Pod"
    )


class _Readiness(http.server.BaseHTTPRequestHandler):
    ready = True

    def do_GET(self) -> None:
        status = 200 if type(self).ready or not self.path.startswith("/late") else 503
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b'{"status": "ready"}' if status == 200 else b'{"status": "not ready"}')

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def readiness_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Readiness)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_helm_test_script_passes_when_all_are_ready_and_fails_naming_the_one_that_is_not(readiness_server: str) -> None:
    """The pod's own script, run here against local HTTP servers in place of the Services."""
    pod = named(render(None, "--set", "tests.timeoutSeconds=3"), "Pod", f"{PREFIX}-test")
    script = pod["spec"]["containers"][0]["args"][0]
    ok = subprocess.run(
        [sys.executable, "-c", script, f"{readiness_server}/a/readyz", f"{readiness_server}/b/readyz"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    _Readiness.ready = False
    try:
        late = subprocess.run(
            [sys.executable, "-c", script, f"{readiness_server}/a/readyz", f"{readiness_server}/late/readyz"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        _Readiness.ready = True
    assert late.returncode != 0
    assert "/late/readyz" in late.stderr and "/a/readyz" not in late.stderr.split("not ready:")[-1]


# -- Prometheus Operator and Strimzi -----------------------------------------------------------------------------------


def test_service_monitor_appends_the_operators_relabelings() -> None:
    monitor = by_kind(render("extensions"), "ServiceMonitor")[0]
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["relabelings"][0]["targetLabel"] == "component", "the chart's own relabeling stays first"
    assert endpoint["relabelings"][1] == {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}
    assert endpoint["metricRelabelings"] == [{"sourceLabels": ["__name__"], "regex": "python_gc_.*", "action": "drop"}]
    plain = by_kind(render(None, "--set", "metrics.serviceMonitor.enabled=true"), "ServiceMonitor")[0]
    assert "metricRelabelings" not in plain["spec"]["endpoints"][0]


def test_strimzi_topics_are_the_topics_the_services_use() -> None:
    topics = by_kind(render("extensions"), "KafkaTopic")
    assert sorted(t["spec"]["topicName"] for t in topics) == sorted(spec.name for spec in all_topics(1, 1))
    for topic in topics:
        assert topic["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "alertrouter-kafka"
        assert (topic["spec"]["partitions"], topic["spec"]["replicas"]) == (12, 3)
        assert topic["spec"]["config"] == {**durability_configs(3), "retention.ms": "604800000"}
        # helm uninstall keeps them: the Topic Operator would delete the topics, with pages still in flight
        assert topic["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert by_kind(render(None), "KafkaTopic") == []


@pytest.mark.parametrize("replicas", [1, 2, 3, 5])
def test_strimzi_topics_need_two_in_sync_replicas_whatever_the_brokers_default(replicas: int) -> None:
    """Kafka's default min.insync.replicas is 1: a KafkaTopic without its own let a leader acknowledge alone once
    its followers fell behind, and losing that broker lost acknowledged alerts. The topics get what the services
    create theirs with; a value of kafka.strimziTopics.config still wins."""
    strimzi = ("--set", "kafka.strimziTopics.enabled=true", "--set", "kafka.strimziTopics.clusterName=k")
    rf = ("--set", f"kafka.topicReplicationFactor={replicas}")
    for topic in by_kind(render(None, *strimzi, *rf), "KafkaTopic"):
        assert topic["spec"]["config"] == durability_configs(replicas)
    own = ("--set-string", "kafka.strimziTopics.config.min\\.insync\\.replicas=3")
    for topic in by_kind(render(None, *strimzi, *rf, *own), "KafkaTopic"):
        assert topic["spec"]["config"]["min.insync.replicas"] == "3"


# -- NetworkPolicy -----------------------------------------------------------------------------------------------------


def test_ingest_may_reach_https_for_sns_and_the_ingress_controller_reaches_the_apis() -> None:
    manifests = render("extensions")
    controller = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ingest = named(manifests, "NetworkPolicy", f"{PREFIX}-ingest")
    https = [rule for rule in ingest["spec"]["egress"] if {"port": 443, "protocol": "TCP"} in rule.get("ports", [])]
    assert https == [{"ports": [{"port": 443, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]
    for component in ("router-api", "notifier"):
        policy = named(manifests, "NetworkPolicy", f"{PREFIX}-{component}")
        assert controller in policy["spec"]["ingress"][0]["from"], component
        assert {"podSelector": {}} in policy["spec"]["ingress"][0]["from"], "the namespace keeps its access"
    consumer = named(manifests, "NetworkPolicy", f"{PREFIX}-router-consumer")
    assert all(controller not in rule.get("from", []) for rule in consumer["spec"]["ingress"])
    assert not any({"port": 443, "protocol": "TCP"} in rule.get("ports", []) for rule in consumer["spec"]["egress"]), (
        "only ingest and the notifier speak HTTPS outward"
    )


# -- values.yaml for editors -------------------------------------------------------------------------------------------


def test_values_file_names_its_schema_for_editors() -> None:
    first = (CHART / "values.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=values.schema.json"
    assert (CHART / "values.schema.json").is_file()
