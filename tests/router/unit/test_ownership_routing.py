"""Route resolution: every operator, rule order, the catch-all, bound services and the explanation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from alertrouter_router.ownership.loader import load_config
from alertrouter_router.ownership.model import OwnershipConfig
from alertrouter_router.ownership.routing import resolve_route
from tests.router.unit.ownership_builders import config_from, minimal_document


def config_with_rules(rules: list[dict[str, Any]]) -> OwnershipConfig:
    document = minimal_document()
    document["services"].append({"id": "other", "name": "Other", "owner_team": "team-a", "escalation_policy": "p1"})
    document["route_rules"] = rules
    return config_from(document)


@pytest.mark.parametrize(
    ("matcher", "labels", "expected"),
    [
        ({"label": "env", "op": "=", "value": "prod"}, {"env": "prod"}, True),
        ({"label": "env", "op": "=", "value": "prod"}, {"env": "production"}, False),
        ({"label": "env", "op": "=", "value": ""}, {}, True),  # a missing label reads as ""
        ({"label": "env", "op": "!=", "value": "staging"}, {"env": "prod"}, True),
        ({"label": "env", "op": "!=", "value": "staging"}, {}, True),
        ({"label": "env", "op": "!=", "value": "staging"}, {"env": "staging"}, False),
        ({"label": "service", "op": "=~", "value": "checkout(-api)?"}, {"service": "checkout-api"}, True),
        ({"label": "service", "op": "=~", "value": "checkout"}, {"service": "checkout-api"}, False),  # anchored
        ({"label": "service", "op": "=~", "value": "check"}, {"service": "precheckout"}, False),
        ({"label": "service", "op": "!~", "value": "search.*"}, {"service": "cart"}, True),
        ({"label": "service", "op": "!~", "value": "search.*"}, {"service": "search-api"}, False),
        ({"label": "team", "op": "exists"}, {"team": "payments"}, True),
        ({"label": "team", "op": "exists"}, {"team": ""}, False),
        ({"label": "team", "op": "exists"}, {}, False),
        ({"label": "canary", "op": "absent"}, {}, True),
        ({"label": "canary", "op": "absent"}, {"canary": "true"}, False),
    ],
)
def test_each_operator(matcher: dict[str, str], labels: dict[str, str], expected: bool) -> None:
    config = config_with_rules(
        [{"id": "rule", "service": "other", "match": [matcher]}, {"id": "rest", "service": "svc", "match": []}]
    )
    match = resolve_route(config, labels, None)
    assert match.rule_id == ("rule" if expected else "rest")


def test_leading_inline_flags_as_alertmanager_users_write_them(tmp_path: Path) -> None:
    """``severity=~"(?i)critical"`` copied from an Alertmanager route loaded, and every alert reaching the rule then
    failed routing (Python's ``re`` refused global flags inside the anchoring group): dead-lettered, nobody paged.
    RE2, as Alertmanager's Go, also takes a flag further in (``checkout(?i)-API``)."""
    document = minimal_document()
    document["route_rules"] = [
        {"id": "loud", "service": "svc", "match": ['severity=~"(?i)critical|page"']},
        {"id": "rest", "service": "svc", "match": ['severity!~"(?i)(?s)info.*"']},
    ]
    file = tmp_path / "ownership.yaml"
    file.write_text(yaml.safe_dump(document))
    config = load_config(file, environ={}).config
    assert resolve_route(config, {"severity": "CRITICAL"}, None).rule_id == "loud"
    assert resolve_route(config, {"severity": "Page"}, None).rule_id == "loud"
    assert resolve_route(config, {"severity": "xcritical"}, None).rule_id == "rest"  # still anchored
    assert resolve_route(config, {"severity": "INFO\nmore"}, None).rule_id is None
    later = config_with_rules([{"id": "api", "service": "svc", "match": ['service=~"checkout(?i)-API"']}])
    assert resolve_route(later, {"service": "checkout-api"}, None).rule_id == "api"
    assert resolve_route(later, {"service": "CHECKOUT-api"}, None).rule_id is None


def test_an_expression_that_backtracks_in_pythons_re_routes_in_linear_time() -> None:
    """One team's ``(.*)*-db`` against a 64-character value: Python's ``re`` backtracks through 2**64 ways to split
    it (0.4 s at 22 characters, doubling with each one more) while every team's alerts wait behind it. RE2 answers
    at once; pytest's timeout fails this test on an engine that backtracks."""
    config = config_with_rules(
        [
            {
                "id": "db",
                "service": "other",
                "match": ['instance=~"(.*)*-db"', {"label": "job", "op": "=~", "value": r"(\w+\s?)+"}],
            },
            {"id": "rest", "service": "svc", "match": []},
        ]
    )
    assert resolve_route(config, {"instance": "a" * 64 + "!", "job": "x"}, None).rule_id == "rest"
    assert resolve_route(config, {"instance": "orders-db", "job": "a b " * 16 + "!"}, None).rule_id == "rest"
    assert resolve_route(config, {"instance": "orders-db", "job": "node exporter"}, None).rule_id == "db"


def test_first_matching_rule_wins_and_explains_why() -> None:
    config = config_with_rules(
        [
            {
                "id": "prod-other",
                "service": "other",
                "match": [
                    {"label": "service", "op": "=", "value": "x"},
                    {"label": "env", "op": "=~", "value": "prod.*"},
                ],
            },
            {"id": "any-x", "service": "svc", "match": [{"label": "service", "op": "=", "value": "x"}]},
        ]
    )
    match = resolve_route(config, {"service": "x", "env": "production", "noise": "1"}, None)
    assert (match.service_id, match.team_id, match.escalation_policy_id, match.rule_id) == (
        "other",
        "team-a",
        "p1",
        "prod-other",
    )
    assert match.matched_labels == {"service": "x", "env": "production"}
    assert match.reason == "rule 'prod-other' matched: service = 'x' (was 'x'), env =~ 'prod.*' (was 'production')"
    assert resolve_route(config, {"service": "x", "env": "dev"}, None).rule_id == "any-x"


def test_catch_all_is_tried_last_wherever_it_is_written() -> None:
    config = config_with_rules(
        [
            {"id": "everything", "service": "svc", "match": []},
            {"id": "specific", "service": "other", "match": [{"label": "a", "op": "exists"}]},
        ]
    )
    assert resolve_route(config, {"a": "1"}, None).rule_id == "specific"
    fallback = resolve_route(config, {}, None)
    assert (fallback.rule_id, fallback.service_id, fallback.reason) == (
        "everything",
        "svc",
        "catch-all rule 'everything'",
    )


def test_bound_service_short_circuits_the_rules() -> None:
    config = config_with_rules([{"id": "rule", "service": "other", "match": []}])
    match = resolve_route(config, {"service": "svc"}, "svc")
    assert (match.service_id, match.rule_id, match.bound_service) == ("svc", None, True)
    assert match.reason == "integration is bound to service 'svc'"


def test_no_match_without_catch_all() -> None:
    config = config_with_rules([{"id": "rule", "service": "other", "match": [{"label": "a", "op": "exists"}]}])
    match = resolve_route(config, {"b": "1"}, None)
    assert (match.service_id, match.team_id, match.escalation_policy_id, match.rule_id) == (None, None, None, None)
    assert match.reason == "no route rule matched and there is no catch-all rule"


def test_unknown_bound_service_is_no_match() -> None:
    match = resolve_route(config_with_rules([]), {}, "gone")
    assert match.service_id is None
    assert match.reason == "integration bound to unknown service 'gone'"


def test_no_route_says_which_service_from_label_rule_found_no_service_in_its_label() -> None:
    """``service=chekout`` (a typo, or a service not configured yet) read only "no route rule matched": the reader
    had to find the rule taking the service from the label and compare the value with every id and alias."""
    config = config_with_rules(
        [
            {"id": "prod-only", "service_from_label": "service", "match": ['env="prod"']},
            {"id": "by-label", "service_from_label": "service", "match": []},
        ]
    )
    assert resolve_route(config, {"service": "svc"}, None).service_id == "svc"
    typo = resolve_route(config, {"service": "chekout", "env": "staging"}, None)
    assert typo.service_id is None and typo.rule_id is None
    assert typo.reason == (
        "no route rule matched and there is no catch-all rule; rule 'by-label' takes the service from label "
        "service, and label service='chekout' names no service (by id or alias)"
    )
    missing = resolve_route(config, {"env": "prod"}, None)
    assert missing.reason.endswith(
        "rule 'prod-only' takes the service from label service, and label service is missing"
    )
