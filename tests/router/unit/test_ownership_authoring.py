"""Authoring conveniences of the configuration: matcher strings, YAML 1.2 scalars, service_from_label."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertrouter_router.ownership.errors import ConfigError
from alertrouter_router.ownership.loader import load_config
from alertrouter_router.ownership.matcher_syntax import parse_matcher
from alertrouter_router.ownership.model import Matcher
from alertrouter_router.ownership.routing import FROM_LABEL, resolve_route
from tests.router.unit.ownership_builders import config_from, minimal_document


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('service=~"checkout.*"', ("service", "=~", "checkout.*")),
        ("service = checkout", ("service", "=", "checkout")),
        ('env!="staging"', ("env", "!=", "staging")),
        ('job !~ "node|blackbox"', ("job", "!~", "node|blackbox")),
        ('msg="say \\"hi\\"\\\\n"', ("msg", "=", 'say "hi"\\n')),
        ('"dotted.name"="x"', ("dotted.name", "=", "x")),
        ('env=""', ("env", "=", "")),
        ("env=", ("env", "=", "")),
    ],
)
def test_alertmanager_matcher_strings(text: str, expected: tuple[str, str, str]) -> None:
    matcher = Matcher.model_validate(text)
    assert (matcher.label, matcher.op, matcher.value) == expected


@pytest.mark.parametrize("text", ["service", "=x", 'service=~"open', 'a="b\\q"', "service~checkout", '1abc="x"'])
def test_malformed_matcher_strings_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="invalid matcher"):
        parse_matcher(text)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ownership.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def minimal_yaml(**changes: Any) -> str:
    document = copy.deepcopy(minimal_document())
    for section, value in changes.items():
        document[section] = value
    return yaml.safe_dump(document, sort_keys=False)


def test_string_and_object_matchers_route_alike_and_hash_alike(tmp_path: Path) -> None:
    as_objects = load_config(
        write(
            tmp_path,
            minimal_yaml(
                route_rules=[
                    {
                        "id": "r1",
                        "service": "svc",
                        "match": [
                            {"label": "service", "op": "=~", "value": "svc(-api)?"},
                            {"label": "env", "op": "!=", "value": "dev"},
                        ],
                    }
                ]
            ),
        )
    )
    as_strings = load_config(
        write(
            tmp_path,
            minimal_yaml(
                route_rules=[{"id": "r1", "service": "svc", "match": ['service=~"svc(-api)?"', "env != dev"]}]
            ),
        )
    )
    assert as_strings.version == as_objects.version
    assert resolve_route(as_strings.config, {"service": "svc-api", "env": "prod"}, None).rule_id == "r1"
    assert resolve_route(as_strings.config, {"service": "svc-api", "env": "dev"}, None).rule_id is None


def test_a_malformed_matcher_string_is_located(tmp_path: Path) -> None:
    path = write(tmp_path, minimal_yaml(route_rules=[{"id": "r1", "service": "svc", "match": ["service~svc"]}]))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    [issue] = caught.value.issues
    assert issue.path == "route_rules[0].match[0]"
    assert "invalid matcher 'service~svc'" in issue.message and issue.line is not None


def test_yaml_1_1_booleans_stay_strings(tmp_path: Path) -> None:
    text = minimal_yaml().replace("name: Service", "name: Service\n  labels: {canary: no, legacy: off, tier: y}")
    text = text.replace("value: svc", "value: no").replace("development_only: true", "development_only: yes")
    text += "  enabled: no\n"
    loaded = load_config(write(tmp_path, text), environ={})
    assert loaded.config.integrations[0].enabled is False  # boolean fields still read yes/no
    assert loaded.services_by_id["svc"].labels == {"canary": "no", "legacy": "off", "tier": "y"}
    assert loaded.config.route_rules[0].match[0].value == "no"
    assert resolve_route(loaded.config, {"service": "no"}, None).service_id == "svc"


def test_a_real_boolean_in_a_string_field_says_to_quote_it(tmp_path: Path) -> None:
    path = write(tmp_path, minimal_yaml().replace("value: svc", "value: true"))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    [issue] = caught.value.issues
    assert issue.path == "route_rules[0].match[0].value"
    assert issue.message == 'expected a string, got true: quote it ("true") if the text is meant'


def test_booleans_and_timestamps_still_read_into_their_fields(tmp_path: Path) -> None:
    text = minimal_yaml().replace("development_only: true", "development_only: True\n  enabled: false")
    text = text.replace("start: '2024-01-01T09:00:00'", "start: 2024-01-01 09:00:00")
    assert "enabled: false" in text and "start: 2024-01-01 09:00:00" in text
    loaded = load_config(write(tmp_path, text), environ={})
    assert loaded.config.integrations[0].enabled is False
    assert loaded.config.schedules[0].layers[0].start.isoformat() == "2024-01-01T09:00:00"


def many_services() -> dict[str, Any]:
    document = copy.deepcopy(minimal_document())
    base = document["services"][0]
    document["services"] = [
        {**base, "id": "checkout", "name": "Checkout", "aliases": ["checkout-api", "co"]},
        {**base, "id": "ledger", "name": "Ledger"},
        {**base, "id": "fallback", "name": "Fallback"},
    ]
    document["route_rules"] = [
        {"id": "catch-all", "service": "fallback", "match": []},
        {"id": "by-label", "service_from_label": "service", "match": ['env!="staging"']},
    ]
    return document


@pytest.mark.parametrize(
    ("labels", "service", "rule", "value"),
    [
        ({"service": "ledger"}, "ledger", "by-label", "ledger"),
        ({"service": "checkout-api"}, "checkout", "by-label", "checkout-api"),
        ({"service": "co", "env": "prod"}, "checkout", "by-label", "co"),
        ({"service": "unknown"}, "fallback", "catch-all", None),
        ({"service": "ledger", "env": "staging"}, "fallback", "catch-all", None),
        ({}, "fallback", "catch-all", None),
    ],
)
def test_service_from_label_routes_by_id_and_alias(
    labels: dict[str, str], service: str, rule: str, value: str | None
) -> None:
    match = resolve_route(config_from(many_services()), labels, None)
    assert (match.service_id, match.rule_id, match.service_label_value) == (service, rule, value)
    if value is not None:
        assert match.service_label == "service"
        assert match.matched[0].op == FROM_LABEL and match.matched[0].actual == value
        assert f"took the service from label service={value!r}" in match.reason


def test_service_from_label_reason_names_alias_and_conditions() -> None:
    match = resolve_route(config_from(many_services()), {"service": "co", "env": "prod"}, None)
    assert match.reason == (
        "rule 'by-label' took the service from label service='co' (an alias of 'checkout'): "
        "env != 'staging' (was 'prod')"
    )


def test_service_from_label_is_checked(tmp_path: Path) -> None:
    document = many_services()
    document["services"][1]["aliases"] = ["co"]
    document["services"][2]["aliases"] = ["ledger"]
    document["route_rules"].append({"id": "both", "service": "ledger", "service_from_label": "service"})
    document["route_rules"].append({"id": "neither", "match": ["a=b"]})
    path = write(tmp_path, yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    messages = {(issue.path, issue.message) for issue in caught.value.issues}
    one_of = "a route rule has exactly one of 'service' or 'service_from_label'"
    assert messages == {("route_rules[2]", one_of), ("route_rules[3]", one_of)}
    document["route_rules"] = document["route_rules"][:2]
    path = write(tmp_path, yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    messages = {(issue.path, issue.message) for issue in caught.value.issues}
    assert messages == {
        ("services[1].aliases[0]", "alias 'co' already names service 'checkout'"),
        ("services[2].aliases[0]", "alias 'ledger' is the id of another service"),
    }
