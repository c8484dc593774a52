"""docker-compose.yml: valid against the Compose Specification, wired as documented, and in step with the code.

No Docker engine runs here, so the file is checked statically: the schema, start-up order, health checks,
hardening, the environment each service gets (against its pydantic-settings class), the example configuration it
mounts (loaded with the router's own loader) and the Prometheus → Alertmanager → ingest wiring.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from alertrouter_router.ownership.loader import load_config
from alertrouter_router.ownership.routing import resolve_route
from tests.deploy import compose_boot
from tests.deploy.support import (
    CONTRACT_PORTS,
    ROOT,
    by_kind,
    load_yaml,
    render,
    unknown_env,
)

COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = Path(__file__).parent / "schemas" / "compose-spec.json"
COMPOSE_DIR = ROOT / "deploy" / "compose"
APP_SERVICES = ("router-migrate", "notifier-migrate", "ingest", "router-consumer", "router-api", "notifier")
ONE_SHOT = ("router-migrate", "notifier-migrate")
EXPECTED = {"kafka", "postgres", *APP_SERVICES, "mailpit", "prometheus", "alertmanager"}
# The third-party images: each overridable by a variable (CI boots the file with local stand-ins, see
# test_compose_boot.py), with the official image as the default.
THIRD_PARTY = {
    "kafka": ("KAFKA_IMAGE", "apache/kafka:"),
    "postgres": ("POSTGRES_IMAGE", "postgres:"),
    "mailpit": ("MAILPIT_IMAGE", "axllent/mailpit:"),
    "prometheus": ("PROMETHEUS_IMAGE", "prom/prometheus:"),
    "alertmanager": ("ALERTMANAGER_IMAGE", "prom/alertmanager:"),
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = load_yaml(COMPOSE_FILE)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA_FILE.read_text())
    validator = jsonschema.Draft201909Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def default_image(image: str) -> str:
    """The image Compose uses when no variable is set: `${NAME:-default}` becomes `default`."""
    match = re.fullmatch(r"\$\{[A-Z_]+:-([^}]+)\}", image)
    return match.group(1) if match else image


def service_kind(name: str, service: dict[str, Any]) -> str:
    """ingest | router | notifier, from the entrypoint (the service's console script)."""
    entrypoint = service["entrypoint"][0]
    match = re.fullmatch(r"alertrouter-(ingest|router|notifier)", entrypoint)
    assert match, f"{name}: entrypoint {entrypoint!r}"
    return match.group(1)


def test_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []


def test_the_schema_rejects_what_compose_would_reject(compose: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"]["ingest"]["depends_on"]["kafka"]["condition"] = "service_ready"
    broken["services"]["notifier"]["read_only"] = "yes"
    errors = schema_errors(broken)
    assert any(e.startswith("services/ingest/depends_on") for e in errors)
    assert any(e.startswith("services/notifier/read_only") for e in errors)


def test_the_stack_has_every_part(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == EXPECTED


def test_kafka_is_the_official_image_in_kraft_mode(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    assert default_image(kafka["image"]).startswith("apache/kafka:")
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert "kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert not any("ZOOKEEPER" in key for key in env)
    assert int(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == 1, "a single node cannot hold more replicas"


def test_postgres_keeps_its_data_in_a_named_volume(compose: dict[str, Any]) -> None:
    mounts = compose["services"]["postgres"]["volumes"]
    assert "postgres-data:/var/lib/postgresql/data" in mounts
    assert "postgres-data" in compose["volumes"]


def test_third_party_images_are_the_official_ones_unless_a_variable_says_otherwise(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, (variable, official) in THIRD_PARTY.items():
        image = services[name]["image"]
        assert image.startswith(f"${{{variable}:-{official}") and image.endswith("}"), f"{name}: {image}"
    assert {n for n, s in services.items() if s["image"].startswith("${")} == set(THIRD_PARTY)


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = default_image(service.get("image", ""))
        assert image, f"{name} has no image name"
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        assert tag and tag != "latest", f"{name}: {image} is not pinned"


def test_migrations_are_one_shot_and_gate_the_services(services: dict[str, dict[str, Any]]) -> None:
    for name in ONE_SHOT:
        service = services[name]
        assert service["command"] == ["migrate"] and service["restart"] == "no"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert service_kind("router-migrate", services["router-migrate"]) == "router"
    assert service_kind("notifier-migrate", services["notifier-migrate"]) == "notifier"
    gated = {"router-consumer": "router-migrate", "router-api": "router-migrate", "notifier": "notifier-migrate"}
    for name, migration in gated.items():
        assert services[name]["depends_on"][migration]["condition"] == "service_completed_successfully"


def test_roles_and_commands(services: dict[str, dict[str, Any]]) -> None:
    assert services["ingest"]["entrypoint"] == ["alertrouter-ingest"] and "command" not in services["ingest"]
    assert services["router-consumer"]["command"] == ["consume"]
    assert services["router-api"]["command"] == ["api"]
    assert services["notifier"]["command"] == ["run"]
    for name in APP_SERVICES:
        kind = service_kind(name, services[name])
        assert services[name]["build"]["args"]["SERVICE"] == kind, f"{name} builds the wrong image"
        assert services[name]["image"] == f"alertrouter-{kind}:dev"


def test_every_long_running_service_has_a_health_check(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck", {})
        if name in ONE_SHOT:
            assert check == {"disable": True}
            continue
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"


def test_dependencies_wait_for_health_or_completion(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            wanted = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            assert rule["condition"] == wanted, f"{name} -> {dependency}: {rule}"
    assert set(services["ingest"]["depends_on"]) == {"kafka"}
    assert {"kafka", "mailpit"} <= set(services["notifier"]["depends_on"])


def test_application_containers_are_hardened_like_in_kubernetes(services: dict[str, dict[str, Any]]) -> None:
    for name in APP_SERVICES:
        service = services[name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "/tmp" in service["tmpfs"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["init"] is True, name


def test_environment_names_exist_in_each_services_settings(services: dict[str, dict[str, Any]]) -> None:
    for name in APP_SERVICES:
        kind = service_kind(name, services[name])
        names = set(services[name].get("environment", {}))
        assert names, f"{name} gets no environment"
        assert unknown_env(kind, names) == set(), f"{name}: variables its settings class does not read"


def test_ports_follow_the_contract(services: dict[str, dict[str, Any]]) -> None:
    for name in ("ingest", "router-consumer", "router-api", "notifier"):
        kind = service_kind(name, services[name])
        assert int(services[name]["environment"][f"{kind.upper()}_PORT"]) == CONTRACT_PORTS[kind]
        for mapping in services[name].get("ports", []):
            assert mapping.endswith(f":{CONTRACT_PORTS[kind]}"), f"{name} publishes {mapping}"


def test_the_notifier_mails_to_mailpit_and_calls_the_router_api(services: dict[str, dict[str, Any]]) -> None:
    env = services["notifier"]["environment"]
    assert (env["NOTIFIER_SMTP_HOST"], env["NOTIFIER_SMTP_PORT"], env["NOTIFIER_SMTP_SECURITY"]) == (
        "mailpit",
        "1025",
        "none",
    )
    router = urlsplit(env["NOTIFIER_ROUTER_URL"])
    assert (router.hostname, router.port) == ("router-api", CONTRACT_PORTS["router"])


def test_mounted_files_exist(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_the_example_configuration_is_mounted_and_loads(services: dict[str, dict[str, Any]]) -> None:
    for name in ("ingest", "router-consumer", "router-api"):
        target = services[name]["environment"]["ALERTROUTER_CONFIG"]
        assert f"./examples/ownership:{target}:ro" in services[name]["volumes"], name
    loaded = load_config(ROOT / "examples" / "ownership", environ={})
    assert loaded.config.services, "the example configuration defines no service"


def test_alertmanager_posts_to_ingest_with_a_known_integration_key(services: dict[str, dict[str, Any]]) -> None:
    config = load_yaml(COMPOSE_DIR / "alertmanager.yml")
    receivers = {r["name"]: r for r in config["receivers"]}
    webhook = receivers[config["route"]["receiver"]]["webhook_configs"][0]
    url = urlsplit(webhook["url"])
    assert (url.hostname, url.port) == ("ingest", int(services["ingest"]["environment"]["INGEST_PORT"]))
    assert url.path == "/v1/alertmanager/dev-alertmanager"
    assert webhook["send_resolved"] is True
    loaded = load_config(ROOT / "examples" / "ownership", environ={})
    integration = loaded.integration_for_key(url.path.rsplit("/", 1)[-1])
    assert integration is not None and integration.type.value == "alertmanager"


def test_prometheus_scrapes_every_service_and_alerts_through_alertmanager(services: dict[str, dict[str, Any]]) -> None:
    config = load_yaml(COMPOSE_DIR / "prometheus.yml")
    targets = {t for job in config["scrape_configs"] for s in job["static_configs"] for t in s["targets"]}
    for name in ("ingest", "router-consumer", "router-api", "notifier"):
        kind = service_kind(name, services[name])
        assert f"{name}:{services[name]['environment'][f'{kind.upper()}_PORT']}" in targets
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    mounted = {m.split(":")[1] for m in services["prometheus"]["volumes"] if m.startswith("./")}
    for pattern in config["rule_files"]:
        directory = pattern.rsplit("/", 1)[0]
        assert any(target.startswith(directory + "/") for target in mounted), f"no rule file under {pattern}"


def test_the_demo_alert_routes_to_a_service_of_the_example() -> None:
    rules = load_yaml(COMPOSE_DIR / "prometheus-rules.yml")
    demo = next(g for g in rules["groups"] if g["name"] == "alertrouter-demo")["rules"][0]
    loaded = load_config(ROOT / "examples" / "ownership", environ={})
    match = resolve_route(loaded.config, {"alertname": demo["alert"], **demo["labels"]}, None)
    assert match.rule_id is not None and match.rule_id != "unrouted-to-platform", match.reason


def test_self_monitoring_rules_equal_the_charts() -> None:
    rules = load_yaml(COMPOSE_DIR / "prometheus-rules.yml")
    compose_group = next(g for g in rules["groups"] if g["name"] == "alertrouter-self")
    chart_rule = by_kind(render(None, "--set", "metrics.prometheusRule.enabled=true"), "PrometheusRule")[0]
    chart_group = next(g for g in chart_rule["spec"]["groups"] if g["name"] == "alertrouter-self")
    assert compose_group["rules"] == chart_group["rules"]


def test_start_order_follows_depends_on_as_documented(services: dict[str, dict[str, Any]]) -> None:
    """The order the compose boot test starts the services in (tests/deploy/compose_boot.py), as docs/deployment.md
    describes it: data stores first, migrations and ingest, then the services, Prometheus last."""
    assert compose_boot.stages(services, set(services)) == [
        ["kafka", "mailpit", "postgres"],
        ["ingest", "notifier-migrate", "router-migrate"],
        ["alertmanager", "notifier", "router-api", "router-consumer"],
        ["prometheus"],
    ]
    gates = compose_boot.gates(services, set(services))
    assert {s for s, c in gates.items() if c == compose_boot.COMPLETED} == set(ONE_SHOT)
    assert {s for s, c in gates.items() if c == compose_boot.HEALTHY} == {
        "kafka",
        "postgres",
        "mailpit",
        "ingest",
        "alertmanager",
    }


def test_the_kafka_stand_in_reads_the_variables_as_the_official_image(services: dict[str, dict[str, Any]]) -> None:
    spec = importlib.util.spec_from_file_location("kafka_run", Path(__file__).parent / "standins" / "kafka_run.py")
    assert spec is not None and spec.loader is not None
    kafka_run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kafka_run)
    properties = kafka_run.properties({**services["kafka"]["environment"], "KAFKA_HEAP_OPTS": "-Xmx1g", "PATH": "/x"})
    assert properties["controller.quorum.voters"] == "1@kafka:9093"
    assert properties["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,HOST:PLAINTEXT"
    assert properties["process.roles"] == "broker,controller"
    assert "heap.opts" not in properties and "path" not in properties
    assert kafka_run.property_name("KAFKA_SOME__ODD___NAME") == "some_odd-name"
