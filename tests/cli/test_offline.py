"""Offline commands on the example configuration and the tests' fixtures: no router, no network."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from alertrouter_cli.__main__ import app
from alertrouter_cli.times import InstantError, parse_duration, parse_instant
from alertrouter_router.decisions.escalation import timeline
from alertrouter_router.ownership.json_schema import PUBLISHED_PATH
from alertrouter_router.ownership.loader import load_config
from tests.cli.conftest import EXAMPLES, LABELLED, ROOT, run_cli

runner = CliRunner()


def invoke(*args: str) -> Any:
    result = runner.invoke(app, list(args), env={"ALERTROUTER_CONFIG": ""})
    assert "Traceback" not in result.output
    return result


def route_json(*args: str) -> dict[str, Any]:
    result = invoke("route", "test", *args, "--json")
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def test_route_test_names_service_team_policy_and_each_level() -> None:
    body = route_json(
        "--config", str(EXAMPLES), "--labels", "service=checkout", "severity=critical", "--at", "2026-12-02T10:00:00Z"
    )
    assert (body["service"], body["team"], body["policy"]) == ("checkout", "payments", "payments-critical")
    assert body["labels"] == {"service": "checkout", "severity": "critical"}
    assert body["route"]["rule"] == "checkout-by-service-label"
    assert body["route"]["matched"] == [
        {"label": "service", "op": "=~", "value": "checkout(-api)?", "actual": "checkout"}
    ]
    first, second, third = body["levels"]
    assert first["fires_at"] == "2026-12-02T10:00:00+00:00"
    assert [t["user"] for t in first["targets"]] == ["clara"]
    assert first["targets"][0]["selected_by"] == {
        "kind": "schedule",
        "id": "payments-primary",
        "layer": "weekly",
        "override": None,
        "until": "2026-12-07T08:00:00+00:00",
    }
    assert second["fires_at"] == "2026-12-02T10:10:00+00:00"  # level 1 waits 10 minutes for an acknowledgement
    assert third["fires_at"] == "2026-12-02T10:25:00+00:00"
    assert [t["selected_by"]["kind"] for t in third["targets"]] == ["team"] * 3


def test_route_test_shows_the_override_that_selected_someone() -> None:
    body = route_json("-c", str(EXAMPLES), "-l", "service=checkout-api", "--at", "2026-12-25T12:00:00+01:00")
    [target] = body["levels"][0]["targets"]
    assert target["user"] == "ben"
    assert target["selected_by"]["override"] == "clara-christmas"
    result = invoke(
        "route", "test", "-c", str(EXAMPLES), "-l", "service=checkout-api", "--at", "2026-12-25T12:00:00+01:00"
    )
    assert "schedule payments-primary, override clara-christmas" in result.stdout


def test_route_test_table() -> None:
    result = invoke(
        "route", "test", "--config", str(EXAMPLES), "--labels", "service=checkout", "--at", "2026-12-02T10:00:00Z"
    )
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "route:    rule 'checkout-by-service-label' matched: service =~ 'checkout(-api)?' (was 'checkout')" in lines
    assert "service:  checkout (Checkout)" in lines and "team:     payments (Payments)" in lines
    header = next(line for line in lines if line.startswith("LEVEL"))
    assert header.split() == ["LEVEL", "FIRES", "USER", "NAME", "SELECTED", "BY", "UNTIL", "NOTIFIED", "BY"]
    first = next(line for line in lines if line.startswith("1 "))
    assert "clara" in first and "schedule payments-primary, layer weekly" in first and "webhook now, email +5m" in first


def test_route_test_with_service_from_label_and_aliases() -> None:
    body = route_json("-c", str(LABELLED), "-l", "service=cart", "-l", "env=production", "--at", "2026-06-01T12:00:00Z")
    assert body["service"] == "basket"
    assert body["route"]["service_from_label"] == {"label": "service", "value": "cart"}
    assert body["route"]["matched"] == [{"label": "env", "op": "!=", "value": "staging", "actual": "production"}]
    assert body["levels"][0]["targets"][0]["selected_by"]["override"] == "bo-covers"
    result = invoke("route", "test", "-c", str(LABELLED), "-l", "service=cart", "--at", "2026-06-01T12:00:00Z")
    assert (
        "route:    rule 'production-by-service-label' took the service from label service='cart' (an alias of 'basket')"
        in result.stdout
    )
    staging = route_json("-c", str(LABELLED), "-l", "service=search-api", "env=staging")
    assert (staging["service"], staging["route"]["rule"]) == ("search", "staging-search")


def test_route_test_for_an_unrouted_alert_and_a_maintenance_window() -> None:
    unrouted = invoke("route", "test", "-c", str(LABELLED), "-l", "service=unknown")
    assert unrouted.exit_code == 0
    assert "service:  none: the alert would be recorded as unrouted and page nobody" in unrouted.stdout
    quiet = route_json("-c", str(LABELLED), "-l", "service=basket", "--at", "2026-03-01T03:00:00Z")
    assert quiet["maintenance"] is True
    assert (
        route_json("-c", str(LABELLED), "-l", "service=basket", "--at", "2026-03-01T07:00:00Z")["maintenance"] is False
    )


def test_route_test_with_a_bound_integration() -> None:
    body = route_json("-c", str(EXAMPLES), "--integration", "payments-cloudwatch", "-l", "service=checkout")
    assert body["service"] == "payments-ledger" and body["route"]["bound_service"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-l", "service"], "error: label 'service' is not name=value"),
        (["-l", "a=b", "--at", "2026-12-02T10:00:00"], "has no UTC offset"),
        (["-l", "a=b", "--at", "tomorrow"], "is not an instant"),
        (["-l", "a=b", "--integration", "nope"], "error: integration 'nope' is not in the configuration"),
    ],
)
def test_route_test_errors_are_one_line(args: list[str], message: str) -> None:
    result = invoke("route", "test", "-c", str(EXAMPLES), *args)
    assert result.exit_code == 1
    assert message in result.stderr and result.stdout == ""


def test_an_invalid_configuration_lists_its_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("teams:\n  - {id: t, name: T, members: [ghost]}\n", encoding="utf-8")
    result = invoke("route", "test", "-c", str(tmp_path), "-l", "a=b")
    assert result.exit_code == 1
    assert f"error: configuration {tmp_path} is invalid (1 error(s)):" in result.stderr
    assert "bad.yaml:2: teams[0].members[0]: unknown user 'ghost'" in result.stderr


def test_config_validate_text_and_json() -> None:
    result = invoke("config", "validate", str(EXAMPLES))
    assert result.exit_code == 0 and "is valid (4 file(s))" in result.stdout
    result = invoke("config", "validate", str(EXAMPLES), "--format", "json", "--days", "3")
    body = json.loads(result.stdout)
    assert result.exit_code == 0 and body["valid"] is True and body["coverage"]["days"] == 3
    assert len(body["files"]) == 4 and len(body["version"]) == 64


def test_config_validate_can_skip_secrets(tmp_path: Path) -> None:
    config = tmp_path / "ownership.yaml"
    text = (LABELLED / "ownership.yaml").read_text(encoding="utf-8")
    config.write_text(text + "integrations:\n  - {id: am, type: alertmanager, key_env: CLI_TEST_UNSET_KEY}\n")
    result = invoke("config", "validate", str(config))
    assert result.exit_code == 1
    assert "missing secret: environment variable 'CLI_TEST_UNSET_KEY' is not set" in result.stdout
    result = invoke("config", "validate", str(config), "--skip-secrets", "--days", "1")
    assert result.exit_code == 0, result.stdout


def changed_copy(tmp_path: Path) -> Path:
    target = tmp_path / "proposed"
    shutil.copytree(EXAMPLES, target)
    payments = target / "payments.yaml"
    text = payments.read_text(encoding="utf-8")
    text = text.replace("escalation_policy: payments-critical", "escalation_policy: platform-default", 1)
    payments.write_text(text, encoding="utf-8")
    common = target / "common.yaml"
    common.write_text(common.read_text(encoding="utf-8").replace("key: dev-cloudwatch", "key: rotated-dev-cloudwatch"))
    return target


def test_config_diff_is_readable_and_keeps_secrets_out(tmp_path: Path) -> None:
    before = (EXAMPLES / "payments.yaml").read_text(encoding="utf-8")
    assert before.count("escalation_policy: payments-critical") == 2
    result = invoke("config", "diff", str(EXAMPLES), str(changed_copy(tmp_path)))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "services:",
        "  ~ checkout",
        "      escalation_policy: 'payments-critical' -> 'platform-default'",
        "integrations:",
        "  ~ dev-cloudwatch",
        "      key: '(secret)' -> '(secret changed)'",
    ]
    assert "rotated" not in result.stdout


def test_config_diff_adds_removes_and_reorders(tmp_path: Path) -> None:
    before, after = tmp_path / "a.yaml", tmp_path / "b.yaml"
    before.write_text((LABELLED / "ownership.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    text = before.read_text(encoding="utf-8")
    rules = text[text.index("route_rules:") :]
    first, second = rules.split("  - id: staging-search")
    reordered = (
        "route_rules:\n  - id: staging-search" + second.rstrip("\n") + "\n" + first.removeprefix("route_rules:\n")
    )
    text = text.replace(rules, reordered).replace(
        "  - id: search\n    name: Search\n", "  - id: search\n    name: Search v2\n"
    )
    text = text.replace("        participants: [ada, bo]", "        participants: [bo, ada]")
    after.write_text(text.replace("aliases: [basket-api, cart]", "aliases: [cart]"), encoding="utf-8")
    body = json.loads(invoke("config", "diff", str(before), str(after), "--json").stdout)
    by_section = {item["section"]: item for item in body}
    assert by_section["services"]["changed"] == {
        "basket": [{"path": "aliases", "before": ["basket-api", "cart"], "after": ["cart"]}],
        "search": [{"path": "name", "before": "Search", "after": "Search v2"}],
    }
    assert by_section["schedules"]["changed"]["shop-daily"] == [
        {"path": "layers[daily].participants", "before": ["ada", "bo"], "after": ["bo", "ada"]}
    ]
    assert by_section["route_rules"]["order"] == {
        "before": ["production-by-service-label", "staging-search"],
        "after": ["staging-search", "production-by-service-label"],
    }
    same = invoke("config", "diff", str(before), str(before))
    assert same.exit_code == 0 and same.stdout.strip() == "no differences"


def test_config_diff_says_whose_running_shift_a_rotation_change_hands_to_someone_else(tmp_path: Path) -> None:
    """Whose turn it is follows from the participant list, so reordering or adding a participant moves the running
    shift the moment the router loads the change; the field lines alone left a reviewer to work that out."""
    before, after = tmp_path / "a.yaml", tmp_path / "b.yaml"
    text = (LABELLED / "ownership.yaml").read_text(encoding="utf-8")
    before.write_text(text, encoding="utf-8")
    after.write_text(text.replace("participants: [ada, bo]", "participants: [bo, ada]"), encoding="utf-8")
    result = invoke("config", "diff", str(before), str(after), "--at", "2026-01-01T12:00:00Z")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-3:] == ["on_call_now:", "  ~ shop-daily", "      user: 'ada' -> 'bo'"]
    covered = invoke("config", "diff", str(before), str(after), "--at", "2026-06-01T12:00:00Z", "--json")
    sections = [item["section"] for item in json.loads(covered.stdout)]
    assert sections == ["schedules"]  # bo covers that day by an override, whatever the rotation says
    refused = invoke("config", "diff", str(before), str(after), "--at", "yesterday-ish")
    assert refused.exit_code != 0


def test_config_schema_prints_the_published_schema() -> None:
    result = invoke("config", "schema")
    assert result.exit_code == 0
    assert result.stdout == (ROOT / PUBLISHED_PATH).read_text(encoding="utf-8")


async def test_shell_completion_completes_commands() -> None:
    script = await run_cli("--show-completion", "bash")
    assert script.code == 0 and "_ALERTROUTER_COMPLETE=complete_bash" in script.out
    env = {"_ALERTROUTER_COMPLETE": "complete_bash", "COMP_WORDS": "alertrouter con", "COMP_CWORD": "1"}
    completed = await run_cli(env=env)
    assert completed.out.split() == ["config"]
    env = {"_ALERTROUTER_COMPLETE": "complete_bash", "COMP_WORDS": "alertrouter maintenance ", "COMP_CWORD": "2"}
    assert (await run_cli(env=env)).out.split() == ["add", "end", "list"]


NOW = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("+2h", NOW + timedelta(hours=2)),
        ("-30m", NOW - timedelta(minutes=30)),
        ("+1w", NOW + timedelta(weeks=1)),
        ("2026-12-24T04:00:00+01:00", datetime(2026, 12, 24, 3, 0, tzinfo=UTC)),
        ("2026-12-24t03:00:00z", datetime(2026, 12, 24, 3, 0, tzinfo=UTC)),
    ],
)
def test_instants_on_the_command_line(text: str, expected: datetime) -> None:
    assert parse_instant(text, NOW) == expected


@pytest.mark.parametrize("text", ["2026-12-24T03:00:00", "tomorrow", "+2 fortnights", ""])
def test_instants_without_offset_or_meaning_are_refused(text: str) -> None:
    with pytest.raises(InstantError):
        parse_instant(text, NOW)


def test_durations() -> None:
    assert parse_duration("90m") == timedelta(minutes=90) and parse_duration("1d") == timedelta(days=1)
    with pytest.raises(InstantError, match="is not a duration"):
        parse_duration("-1h")


def test_route_test_skips_a_level_that_reaches_nobody_at_once_as_the_router_does(tmp_path: Path) -> None:
    """Level 1's schedule is staffed only 09:00-17:00 Berlin: before nine the router pages level 2 at once (its
    own decision function, and the escalation preview) and ``route test`` must say the same people and times."""
    config = tmp_path / "ownership"
    shutil.copytree(EXAMPLES, config)
    payments = config / "payments.yaml"
    text = payments.read_text()
    assert '        handoff_time: "09:00"\n' in text
    staffed = '        handoff_time: "09:00"\n        restrictions:\n          - {start: "09:00", end: "17:00"}\n'
    payments.write_text(text.replace('        handoff_time: "09:00"\n', staffed, 1))
    at = datetime(2026, 12, 2, 7, 55, tzinfo=UTC)  # 08:55 in Berlin
    body = route_json("--config", str(config), "--labels", "service=checkout", "--at", at.isoformat())

    loaded = load_config(config, secrets=False)
    preview = timeline(loaded, body["policy"], at)[: len(body["levels"])]
    assert [
        (level["fires_at"], [t["user"] for t in level["targets"] if t["notifications"]]) for level in body["levels"]
    ] == [(step["at"], [t["user"] for t in step["targets"] if t["notifications"]]) for step in preview]
    first, second = body["levels"][:2]
    assert not first["reaches_anyone"] and second["reaches_anyone"]
    assert second["fires_at"] == first["fires_at"] == at.isoformat()


def test_config_diff_follows_the_order_rules_are_tried_in(tmp_path: Path) -> None:
    """The catch-all is tried last wherever the file puts it (``ordered_route_rules``): moving it is no change,
    while moving a rule in front of another still is."""
    before, moved = tmp_path / "a.yaml", tmp_path / "b.yaml"
    text = (LABELLED / "ownership.yaml").read_text(encoding="utf-8")
    catch_all = "  - id: everything-else\n    service: search\n"
    before.write_text(text.rstrip("\n") + "\n" + catch_all, encoding="utf-8")
    moved.write_text(text.replace("route_rules:\n", "route_rules:\n" + catch_all), encoding="utf-8")
    same = invoke("config", "diff", str(before), str(moved))
    assert same.exit_code == 0 and same.stdout.strip() == "no differences", same.stdout
    assert invoke("config", "diff", str(moved), str(before), "--json").stdout.strip() == "[]"


def test_config_diff_says_where_an_added_route_rule_is_tried(tmp_path: Path) -> None:
    """A rule added first takes the alerts another rule routed until then: the diff said only "+ rule"."""
    before, added = tmp_path / "a.yaml", tmp_path / "b.yaml"
    text = (LABELLED / "ownership.yaml").read_text(encoding="utf-8")
    before.write_text(text, encoding="utf-8")
    new_rule = '  - id: all-production\n    service: search\n    match: [{label: env, op: "=", value: production}]\n'
    added.write_text(text.replace("route_rules:\n", "route_rules:\n" + new_rule), encoding="utf-8")
    shown = invoke("config", "diff", str(before), str(added))
    assert "  + all-production (tried 1 of 3)" in shown.stdout, shown.stdout
    body = json.loads(invoke("config", "diff", str(before), str(added), "--json").stdout)
    rules = next(item for item in body if item["section"] == "route_rules")
    assert rules["added"] == ["all-production"] and rules["tried_at"] == {"all-production": 1}
