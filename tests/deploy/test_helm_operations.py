"""What an operator relies on around the workloads: Services, Ingress, HPA, PodDisruptionBudgets, topology spread,
NetworkPolicy, the Prometheus Operator objects, the Grafana dashboard and the chart README.

Metric names in alert rules and dashboard queries are checked against the services' Prometheus registry, so a
renamed metric breaks this test instead of silently emptying a panel or muting an alert.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from alertrouter_router.decisions import Outcome
from alertrouter_shared.events import DeliveryStatus
from tests.deploy.chart_docs import readme_table, values_table
from tests.deploy.support import (
    CHART,
    ROOT,
    by_kind,
    metric_names_in,
    named,
    pod_spec,
    registered_metric_names,
    render,
    run_helm,
    template_args,
)

COMPONENTS = ("ingest", "router-consumer", "router-api", "notifier")


def component_of(manifest: dict[str, Any]) -> str:
    return str(manifest["metadata"]["labels"]["app.kubernetes.io/component"])


def pod_labels(manifests: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {component_of(d): d["spec"]["template"]["metadata"]["labels"] for d in by_kind(manifests, "Deployment")}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_services_select_their_component_and_reach_the_http_port() -> None:
    manifests = render("all-options")
    labels = pod_labels(manifests)
    services = {component_of(s): s for s in by_kind(manifests, "Service")}
    assert set(services) == set(COMPONENTS)
    for component, service in services.items():
        matching = [c for c, pod in labels.items() if selects(service["spec"]["selector"], pod)]
        assert matching == [component]
        assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert services["ingest"]["spec"]["ports"][0]["port"] == 80


def test_ingress_routes_to_the_right_services() -> None:
    manifests = render("production")
    ingresses = {component_of(i): i for i in by_kind(manifests, "Ingress")}
    assert set(ingresses) == {"ingest", "router-api", "notifier"}
    ingest = ingresses["ingest"]["spec"]
    assert ingest["ingressClassName"] == "nginx"
    assert ingest["tls"] == [{"hosts": ["alerts.example.com"], "secretName": "alerts-example-com-tls"}]
    paths = ingest["rules"][0]["http"]["paths"]
    assert [(p["path"], p["pathType"]) for p in paths] == [
        ("/v1/alertmanager", "Prefix"),
        ("/v1/cloudwatch", "Prefix"),
        ("/v2/enqueue", "Exact"),
    ]
    assert {p["backend"]["service"]["name"] for p in paths} == {"rel-alertrouter-ingest"}
    assert {p["backend"]["service"]["port"]["name"] for p in paths} == {"http"}
    notifier = ingresses["notifier"]["spec"]["rules"][0]["http"]["paths"]
    assert notifier[0]["path"] == "/" and notifier[0]["pathType"] == "Prefix", "paths default to /"
    assert by_kind(render(None), "Ingress") == [], "no Ingress unless asked"


def test_ingest_autoscaling_owns_the_replica_count() -> None:
    manifests = render("all-options")
    hpa = by_kind(manifests, "HorizontalPodAutoscaler")
    assert len(hpa) == 1
    spec = hpa[0]["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "rel-ar-ingest"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 12)
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in spec["metrics"]}
    assert targets == {"cpu": 60, "memory": 80}
    assert "replicas" not in named(manifests, "Deployment", "rel-ar-ingest")["spec"]
    assert named(manifests, "Deployment", "rel-ar-router-consumer")["spec"]["replicas"] == 4
    assert by_kind(render(None), "HorizontalPodAutoscaler") == []


def test_disruption_budgets_cover_each_component() -> None:
    defaults = render(None)
    labels = pod_labels(defaults)
    budgets = {component_of(p): p["spec"] for p in by_kind(defaults, "PodDisruptionBudget")}
    assert set(budgets) == set(COMPONENTS)
    for component, spec in budgets.items():
        assert spec["maxUnavailable"] == 1, "a single-replica component can still be drained"
        assert [c for c, pod in labels.items() if selects(spec["selector"]["matchLabels"], pod)] == [component]
    custom = {component_of(p): p["spec"] for p in by_kind(render("all-options"), "PodDisruptionBudget")}
    assert "router-api" not in custom
    assert custom["ingest"]["minAvailable"] == 2 and "maxUnavailable" not in custom["ingest"]


def test_disruption_budgets_let_a_drain_evict_pods_that_are_not_ready() -> None:
    """/readyz fails on every pod while Kafka or PostgreSQL is away; with the default eviction policy
    (IfHealthyBudget) no pod was healthy, the budgets allowed no disruption, and a node drain or a cluster
    autoscaler's scale-down hung for the whole outage. An unready pod serves nothing: evicting it costs nothing."""
    for budget in by_kind(render(None), "PodDisruptionBudget"):
        assert budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow", component_of(budget)
    for budget in by_kind(render(None, kube_version="1.26.0"), "PodDisruptionBudget"):
        assert "unhealthyPodEvictionPolicy" not in budget["spec"], "beta (on by default) from Kubernetes 1.27"


def test_pods_spread_over_zones_and_nodes() -> None:
    for deployment in by_kind(render(None), "Deployment"):
        spec = pod_spec(deployment)
        keys = [c["topologyKey"] for c in spec["topologySpreadConstraints"]]
        assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
        assert {c["whenUnsatisfiable"] for c in spec["topologySpreadConstraints"]} == {"ScheduleAnyway"}, "soft"
        for constraint in spec["topologySpreadConstraints"]:
            assert selects(
                constraint["labelSelector"]["matchLabels"], deployment["spec"]["template"]["metadata"]["labels"]
            )
            assert constraint["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == component_of(deployment)


HARD_SPREAD = [
    {
        "maxSkew": 2,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "DoNotSchedule",
        "minDomains": 3,
        "nodeTaintsPolicy": "Honor",
        "matchLabelKeys": ["pod-template-hash"],
    },
    {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule"},
]


def test_a_hard_spread_replaces_the_soft_default_with_the_charts_selector() -> None:
    manifests = render(None, "--set-json", f"topologySpread.constraints={json.dumps(HARD_SPREAD)}")
    for deployment in by_kind(manifests, "Deployment"):
        constraints = pod_spec(deployment)["topologySpreadConstraints"]
        assert [{k: v for k, v in c.items() if k != "labelSelector"} for c in constraints] == HARD_SPREAD
        for constraint in constraints:
            assert constraint["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == component_of(deployment)
    for deployment in by_kind(render(None, "--set", "topologySpread.enabled=false"), "Deployment"):
        assert "topologySpreadConstraints" not in pod_spec(deployment)


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ({**HARD_SPREAD[0], "whenUnsatisfiable": "ScheduleAnyway"}, "/topologySpread/constraints/0"),
        ({**HARD_SPREAD[1], "whenUnsatisfiable": "Never"}, "/topologySpread/constraints/0/whenUnsatisfiable"),
        ({**HARD_SPREAD[1], "maxSkew": 0}, "/topologySpread/constraints/0/maxSkew"),
        ({**HARD_SPREAD[1], "nodeAffinityPolicy": "honor"}, "/topologySpread/constraints/0/nodeAffinityPolicy"),
        ({**HARD_SPREAD[1], "labelSelector": {}}, "/topologySpread/constraints/0"),
    ],
)
def test_the_schema_refuses_a_spread_kubernetes_would_refuse(constraint: dict[str, Any], expected: str) -> None:
    """minDomains needs DoNotSchedule; the labelSelector is the chart's own."""
    result = run_helm(
        *template_args(None, "--set-json", f"topologySpread.constraints=[{json.dumps(constraint)}]"), check=False
    )
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr


def test_component_scheduling_overrides_the_chart_wide_defaults() -> None:
    deployments = {component_of(d): pod_spec(d) for d in by_kind(render("all-options"), "Deployment")}
    assert deployments["router-consumer"]["nodeSelector"] == {"node.example.com/pool": "alerting"}
    assert deployments["notifier"]["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert "podAntiAffinity" in deployments["ingest"]["affinity"]
    assert all(spec["priorityClassName"] == "alerting-critical" for spec in deployments.values())


def test_network_policies_allow_only_what_each_component_needs() -> None:
    manifests = render("all-options")
    labels = pod_labels(manifests)
    policies = {component_of(p): p["spec"] for p in by_kind(manifests, "NetworkPolicy")}
    assert set(policies) == set(COMPONENTS)

    def egress_ports(spec: dict[str, Any]) -> set[int]:
        return {p["port"] for rule in spec["egress"] for p in rule.get("ports", [])}

    for component, spec in policies.items():
        assert [c for c, pod in labels.items() if selects(spec["podSelector"]["matchLabels"], pod)] == [component]
        assert set(spec["policyTypes"]) == {"Ingress", "Egress"}
        assert {53, 9092} <= egress_ports(spec)
    assert 5432 not in egress_ports(policies["ingest"]), "ingest has no database"
    assert {443, 465} <= egress_ports(policies["notifier"])
    assert 443 not in egress_ports(policies["router-consumer"])
    ingest_sources = policies["ingest"]["ingress"][0]["from"]
    assert {"ipBlock": {"cidr": "10.0.0.0/8"}} in ingest_sources
    assert len(policies["router-consumer"]["ingress"]) == 1, "the consumer serves only probes and metrics"
    assert by_kind(render(None), "NetworkPolicy") == []


def _egress_ports(spec: dict[str, Any]) -> set[int]:
    return {p["port"] for rule in spec["egress"] for p in rule.get("ports", [])}


@pytest.mark.parametrize(
    ("values", "extra", "kafka", "database"),
    [
        # externalDatabase on a PgBouncer port, Kafka's TLS listener (tests/deploy/values/extensions.yaml)
        ("extensions", (), {9093}, {6432}),
        # MSK's SASL/SCRAM port (docs/deployment.md) and an inline URL on its own port
        (
            None,
            (
                "--set",
                "networkPolicy.enabled=true",
                "--set",
                "kafka.bootstrapServers=b-1.msk.example:9096\\,b-2.msk.example:9096",
                "--set",
                "secrets.databaseUrl=postgresql://app:pw@db.example:6543/alerting",
            ),
            {9096},
            {6543},
        ),
        # an inline URL without a port: PostgreSQL's 5432
        (
            None,
            (
                "--set",
                "networkPolicy.enabled=true",
                "--set-json",
                "networkPolicy.egress.postgresPorts=[]",
                "--set",
                "secrets.databaseUrl=postgresql://app:pw@db.example/alerting",
            ),
            set(),
            {5432},
        ),
    ],
)
def test_network_policies_open_the_configured_kafka_and_database_ports(
    values: str | None, extra: tuple[str, ...], kafka: set[int], database: set[int]
) -> None:
    """The ports of kafka.bootstrapServers and of the database the chart connects to are always reachable, whatever
    networkPolicy.egress.kafkaPorts and postgresPorts list."""
    policies = {component_of(p): p["spec"] for p in by_kind(render(values, *extra), "NetworkPolicy")}
    assert set(policies) == set(COMPONENTS)
    for component, spec in policies.items():
        ports = _egress_ports(spec)
        assert kafka <= ports, f"{component} cannot reach Kafka on {kafka - ports}"
        if component == "ingest":
            assert not database & ports, "ingest has no database"
        else:
            assert database <= ports, f"{component} cannot reach PostgreSQL on {database - ports}"


def test_service_monitor_scrapes_every_component_on_metrics() -> None:
    manifests = render("all-options")
    monitor = by_kind(manifests, "ServiceMonitor")
    assert len(monitor) == 1
    spec = monitor[0]["spec"]
    assert monitor[0]["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert spec["endpoints"][0]["path"] == "/metrics" and spec["endpoints"][0]["interval"] == "15s"
    port = spec["endpoints"][0]["port"]
    wanted = set(spec["selector"]["matchExpressions"][0]["values"])
    selected = [
        s
        for s in by_kind(manifests, "Service")
        if selects(spec["selector"]["matchLabels"], s["metadata"]["labels"]) and component_of(s) in wanted
    ]
    assert {component_of(s) for s in selected} == set(COMPONENTS)
    assert all(port in {p["name"] for p in s["spec"]["ports"]} for s in selected)
    assert spec["namespaceSelector"] == {"matchNames": ["alerting"]}


def test_prometheus_rule_alerts_on_lag_failures_and_timers_with_the_configured_thresholds() -> None:
    rule = by_kind(render("all-options"), "PrometheusRule")
    assert len(rule) == 1
    rules = {r["alert"]: r for g in rule[0]["spec"]["groups"] for r in g["rules"]}
    lag, failures, timers = (
        rules["AlertrouterConsumerLagHigh"],
        rules["AlertrouterDeliveryFailuresHigh"],
        rules["AlertrouterEscalationTimersLate"],
    )
    assert "alertrouter_consumer_lag_records" in lag["expr"] and lag["expr"].endswith("> 5000")
    assert lag["for"] == "15m"
    assert 'alertrouter_notifier_deliveries_total{outcome=~"failed' in failures["expr"]
    # held for a digest or cancelled unsent is not a delivery that was tried: a flood of them must not dilute the
    # failures
    assert 'rate(alertrouter_notifier_deliveries_total{outcome!~"throttled|cancelled"}[15m])' in failures["expr"]
    assert failures["expr"].endswith("> 0.05") and failures["for"] == "5m"
    assert "alertrouter_router_escalation_timer_lag_seconds_bucket" in timers["expr"] and timers["expr"].endswith(
        "> 10"
    )
    for alert in rules.values():
        assert alert["labels"]["team"] == "platform"
        assert alert["labels"]["severity"] in {"warning", "critical"}
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]


def test_alert_rules_only_use_metrics_the_services_expose() -> None:
    rule = by_kind(render("all-options"), "PrometheusRule")[0]
    used = {name for g in rule["spec"]["groups"] for r in g["rules"] for name in metric_names_in(r["expr"])}
    assert used, "no alertrouter metric in the rules"
    assert used - registered_metric_names() == set()


def test_grafana_dashboard_ships_as_a_sidecar_configmap_and_queries_real_metrics() -> None:
    manifests = render("all-options")
    configmap = named(manifests, "ConfigMap", "rel-ar-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "Alerting"}
    dashboard = json.loads(configmap["data"]["alertrouter.json"])
    assert dashboard == json.loads((CHART / "dashboards" / "alertrouter.json").read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {name for query in queries for name in metric_names_in(query)}
    assert len(used) >= 20, f"only {len(used)} metrics on the dashboard"
    assert used - registered_metric_names() == set()
    for required in (
        "alertrouter_consumer_lag_records",
        "alertrouter_notifier_deliveries_total",
        "alertrouter_router_escalation_timer_lag_seconds_bucket",
        "alertrouter_ingest_requests_total",
    ):
        assert required in used
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert all('namespace=~"$namespace"' in query for query in queries), "every query honours the namespace filter"
    assert by_kind(render(None), "ConfigMap") and not [
        c for c in by_kind(render(None), "ConfigMap") if c["metadata"]["name"].endswith("-dashboard")
    ]


@pytest.mark.parametrize("metric", ["alertrouter_no_such_metric_total"])
def test_the_metric_check_would_catch_a_typo(metric: str) -> None:
    assert metric not in registered_metric_names()
    assert "alertrouter_consumer_lag_records" in registered_metric_names()


def test_readme_values_table_matches_values_yaml() -> None:
    readme = (CHART / "README.md").read_text()
    expected = values_table((CHART / "values.yaml").read_text())
    assert readme_table(readme) == expected, "run `uv run python tests/deploy/chart_docs.py` to regenerate it"
    undocumented = [line for line in expected.splitlines()[2:] if line.endswith("|  |")]
    assert undocumented == [], "every value needs a `# --` description in values.yaml"


def test_the_outcomes_the_rules_select_are_ones_the_services_record() -> None:
    """A regex over label values silently matches nothing once a value is renamed: each outcome a rule names must
    be one the router decides or the notifier records."""
    rule = by_kind(render("all-options"), "PrometheusRule")[0]
    rules = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    # what the rules do with these values: tests/deploy/test_alert_rules.py (promtool)
    assert _selected(rules["AlertrouterAlertsPagedNobody"]) == {Outcome.NO_ROUTE.value, Outcome.NOBODY_ON_CALL.value}
    failures = rules["AlertrouterDeliveryFailuresHigh"]
    assert _selected(failures) == {"failed", "undelivered", "expired"} <= {s.value for s in DeliveryStatus}
    left_out = f'{{outcome!~"{DeliveryStatus.THROTTLED.value}|{DeliveryStatus.CANCELLED.value}"}}'
    assert left_out in failures  # the denominator leaves them out by name


def _selected(expr: str) -> set[str]:
    """The values of the first ``outcome=~"a|b"`` matcher in ``expr``."""
    found = re.search(r'outcome=~"([^"]+)"', expr)
    assert found, expr
    return set(found.group(1).split("|"))


def test_every_alert_has_a_runbook_section_in_operations_md() -> None:
    rule = by_kind(render("all-options"), "PrometheusRule")[0]
    headings = {
        line.removeprefix("### ").strip().lower()
        for line in (ROOT / "docs" / "operations.md").read_text().splitlines()
        if line.startswith("### ")
    }
    base = "https://github.com/alertrouter/alertrouter/blob/main/docs/operations.md#"
    for alert in (r for g in rule["spec"]["groups"] for r in g["rules"]):
        url = alert["annotations"]["runbook_url"]
        assert url == base + alert["alert"].lower(), url
        assert alert["alert"].lower() in headings, f"docs/operations.md has no section for {alert['alert']}"
    custom = by_kind(
        render(
            None,
            "--set",
            "metrics.prometheusRule.enabled=true",
            "--set",
            "metrics.prometheusRule.runbookBaseUrl=https://wiki.example.com/ar",
        ),
        "PrometheusRule",
    )[0]
    assert custom["spec"]["groups"][0]["rules"][0]["annotations"]["runbook_url"].startswith(
        "https://wiki.example.com/ar#"
    )


def test_a_down_target_alerts_on_the_label_the_service_monitor_sets() -> None:
    manifests = render("all-options")
    rules = {r["alert"]: r for g in by_kind(manifests, "PrometheusRule")[0]["spec"]["groups"] for r in g["rules"]}
    down = rules["AlertrouterTargetDown"]
    assert down["expr"] == 'up{component=~"ingest|router-consumer|router-api|notifier"} == 0'
    assert down["labels"]["severity"] == "critical" and down["for"] == "5m"
    relabel = by_kind(manifests, "ServiceMonitor")[0]["spec"]["endpoints"][0]["relabelings"][0]
    assert relabel["targetLabel"] == "component"
    assert relabel["sourceLabels"] == ["__meta_kubernetes_service_label_app_kubernetes_io_component"]
    assert set(COMPONENTS) == {"ingest", "router-consumer", "router-api", "notifier"}
