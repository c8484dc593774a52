"""Loading and validation: one test per error class, each asserting file, line, YAML path and reason."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from alertrouter_router.ownership.errors import ConfigError, ConfigIssue
from alertrouter_router.ownership.loader import load_config
from tests.router.unit.ownership_builders import minimal_document


def write(directory: Path, name: str, document: Any) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    seen = 0
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        if needle in text:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in {path}")


def issues_of(path: Path, environ: dict[str, str] | None = None) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=environ or {})
    return caught.value.issues


def only_issue(path: Path) -> ConfigIssue:
    issues = issues_of(path)
    assert len(issues) == 1, issues
    return issues[0]


def broken(tmp_path: Path, change: Any) -> Path:
    document = copy.deepcopy(minimal_document())
    change(document)
    return write(tmp_path, "ownership.yaml", document)


def test_minimal_document_loads(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, "ownership.yaml", minimal_document()), environ={})
    assert loaded.services_by_id["svc"].owner_team == "team-a"
    assert loaded.integration_keys == {"am": "am-key"}
    assert loaded.integration_for_key("am-key") is loaded.integrations_by_id["am"]
    assert loaded.integration_for_key("other") is None
    assert len(loaded.version) == 64 and loaded.short_version == loaded.version[:12]


@pytest.mark.parametrize(
    ("change", "path", "needle", "message"),
    [
        (lambda d: d["teams"][0]["members"].append("ghost"), "teams[0].members[3]", "- ghost", "unknown user 'ghost'"),
        (
            lambda d: d["schedules"][0]["layers"][0]["participants"].append("ghost"),
            "schedules[0].layers[0].participants[3]",
            "- ghost",
            "unknown user 'ghost'",
        ),
        (
            lambda d: d["services"][0].update(owner_team="nobody"),
            "services[0].owner_team",
            "owner_team: nobody",
            "unknown team 'nobody'",
        ),
        (
            lambda d: d["services"][0].update(escalation_policy="nope"),
            "services[0].escalation_policy",
            "escalation_policy: nope",
            "unknown escalation policy 'nope'",
        ),
        (
            lambda d: d["escalation_policies"][0]["levels"][0]["targets"][0].update(id="nosched"),
            "escalation_policies[0].levels[0].targets[0].id",
            "id: nosched",
            "unknown schedule 'nosched'",
        ),
        (
            lambda d: d["users"][1]["notification_rules"][0].update(contact_method="b-pager"),
            "users[1].notification_rules[0].contact_method",
            "contact_method: b-pager",
            "unknown contact method 'b-pager' of user 'b'",
        ),
        (
            lambda d: d["users"][1].update(shift_reminder_contact_method="b-pager"),
            "users[1].shift_reminder_contact_method",
            "shift_reminder_contact_method: b-pager",
            "unknown contact method 'b-pager' of user 'b'",
        ),
        (
            lambda d: (
                d["users"][1]["contact_methods"].append({"id": "b-call", "type": "voice", "address": "+447700900101"}),
                d["users"][1].update(shift_reminder_contact_method="b-call"),
            ),
            "users[1].shift_reminder_contact_method",
            "shift_reminder_contact_method: b-call",
            "contact method 'b-call' is a voice call: shift reminders go by chat, email or SMS",
        ),
        (
            lambda d: d["integrations"][0].update(service="ghost-svc"),
            "integrations[0].service",
            "service: ghost-svc",
            "unknown service 'ghost-svc'",
        ),
        (
            lambda d: d["schedules"][0].update(
                overrides=[{"id": "o", "user": "ghost", "start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z"}]
            ),
            "schedules[0].overrides[0].user",
            "user: ghost",
            "unknown user 'ghost'",
        ),
    ],
)
def test_unknown_reference(tmp_path: Path, change: Any, path: str, needle: str, message: str) -> None:
    file = broken(tmp_path, change)
    assert only_issue(file) == ConfigIssue(str(file), line_of(file, needle), path, message)


def test_route_to_unknown_service(tmp_path: Path) -> None:
    file = broken(tmp_path, lambda d: d["route_rules"][0].update(service="ghost"))
    assert only_issue(file) == ConfigIssue(
        str(file), line_of(file, "service: ghost"), "route_rules[0].service", "route to unknown service 'ghost'"
    )


def test_duplicate_id_across_files_names_both_places(tmp_path: Path) -> None:
    write(tmp_path, "a-common.yaml", minimal_document())
    other = write(tmp_path, "b-team.yaml", {"teams": [{"id": "zzz", "name": "Z"}, {"id": "team-a", "name": "Again"}]})
    issue = only_issue(tmp_path)
    first_line = line_of(tmp_path / "a-common.yaml", "- id: team-a")
    assert issue == ConfigIssue(
        str(other),
        line_of(other, "- id: team-a"),
        "teams[1].id",
        f"duplicate id 'team-a' (first defined at {tmp_path / 'a-common.yaml'}:{first_line})",
    )


def test_duplicate_contact_method_id_within_a_user(tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["users"][0]["contact_methods"].append({"id": "a-hook", "type": "email", "address": "a@example.com"})

    file = broken(tmp_path, change)
    issue = only_issue(file)
    assert (issue.path, issue.message) == ("users[0].contact_methods[2].id", "duplicate contact method id 'a-hook'")


@pytest.mark.parametrize(
    "address", ["a@example.com, b@example.com", "a@example.com; b@example.com", "oncall", "a b@example.com"]
)
def test_an_email_contact_method_names_exactly_one_mailbox(tmp_path: Path, address: str) -> None:
    """A list was sent to every address in it, and the page counted as delivered when any one accepted it."""

    def change(d: dict[str, Any]) -> None:
        d["users"][0]["contact_methods"].append({"id": "a-mail", "type": "email", "address": address})

    issue = only_issue(broken(tmp_path, change))
    assert issue.path.startswith("users[0].contact_methods[2]"), issue
    assert "names exactly one mailbox" in issue.message


@pytest.mark.parametrize(
    ("kind", "address"),
    [
        ("email", "a@example.com\r\nBcc: b@example.com"),  # a header of its own
        ("email", "Ops\n<a@example.com>"),  # a bare LF ended the header block
        ("webhook", "https://hooks.example.com/x\ny"),
        ("sms", "+49151\t12345678"),
    ],
)
def test_a_contact_address_with_a_control_character_is_refused(tmp_path: Path, kind: str, address: str) -> None:
    """A quoted YAML address took a line break: in e-mail it injected a header or cut the message short (every
    attempt retried to the deadline as an unexpected error); the message names the position, not the address."""

    def change(d: dict[str, Any]) -> None:
        d["users"][0]["contact_methods"].append({"id": "a-odd", "type": kind, "address": address})

    issue = only_issue(broken(tmp_path, change))
    assert issue.path.startswith("users[0].contact_methods[2]"), issue
    assert "control character" in issue.message
    assert "example.com" not in issue.message and "12345678" not in issue.message


def test_whitespace_around_a_contact_address_is_dropped(tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["users"][0]["contact_methods"].append({"id": "a-mail", "type": "email", "address": " a@example.com\n"})

    config = load_config(broken(tmp_path, change), environ={})
    assert config.config.users[0].contact_methods[2].address == "a@example.com"


@pytest.mark.parametrize("address", ["a@example.com", "Alice Example <alice@example.com>", "a+pager@sub.example.com"])
def test_an_email_contact_method_with_one_mailbox_loads(tmp_path: Path, address: str) -> None:
    def change(d: dict[str, Any]) -> None:
        d["users"][0]["contact_methods"].append({"id": "a-mail", "type": "email", "address": address})

    load_config(broken(tmp_path, change), environ={})


def test_invalid_time_zone(tmp_path: Path) -> None:
    file = broken(tmp_path, lambda d: d["users"][2].update(time_zone="Europe/Berln"))
    assert only_issue(file) == ConfigIssue(
        str(file),
        line_of(file, "Europe/Berln"),
        "users[2].time_zone",
        "invalid time zone 'Europe/Berln': not an IANA zone name such as 'Europe/Berlin'",
    )


def test_empty_rotation(tmp_path: Path) -> None:
    file = broken(tmp_path, lambda d: d["schedules"][0]["layers"][0].update(participants=[]))
    issue, consequence = issues_of(file)
    assert (issue.path, issue.message) == ("schedules[0].layers[0].participants", "empty rotation: no participants")
    assert issue.line == line_of(file, "participants: []")
    # the policy's first level targets only that schedule, so it reaches nobody either
    assert consequence.path == "escalation_policies[0].levels[0].targets"


@pytest.mark.parametrize("turn", [{"hours": 0}, {"days": -1}, "0h", {"duration": "PT0H"}])
def test_zero_or_negative_turn(tmp_path: Path, turn: Any) -> None:
    file = broken(tmp_path, lambda d: d["schedules"][0]["layers"][0].update(turn=turn))
    issue = only_issue(file)
    assert (issue.path, issue.message) == (
        "schedules[0].layers[0].turn",
        "turn must be positive (zero or negative turn length)",
    )
    assert issue.line == line_of(file, "turn:")


def test_overlapping_restriction_windows(tmp_path: Path) -> None:
    windows = [{"start": "08:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}]
    file = broken(tmp_path, lambda d: d["schedules"][0]["layers"][0].update(restrictions=windows))
    issue = only_issue(file)
    assert issue.path == "schedules[0].layers[0].restrictions[1]"
    assert issue.message == "overlapping rotation windows: restriction 1 overlaps restriction 0"


def test_overlapping_overrides_for_the_same_person(tmp_path: Path) -> None:
    overrides = [
        {"id": "o1", "user": "a", "start": "2024-01-01T00:00:00Z", "end": "2024-01-03T00:00:00Z"},
        {"id": "o2", "user": "b", "start": "2024-01-02T00:00:00Z", "end": "2024-01-04T00:00:00Z"},
    ]
    file = broken(tmp_path, lambda d: d["schedules"][0].update(overrides=overrides))
    issue = only_issue(file)
    assert (issue.path, issue.message) == (
        "schedules[0].overrides[1]",
        "overlapping overrides: 'o2' overlaps 'o1' for the same person",
    )


def test_policy_without_levels(tmp_path: Path) -> None:
    file = broken(tmp_path, lambda d: d["escalation_policies"][0].update(levels=[]))
    assert only_issue(file) == ConfigIssue(
        str(file),
        line_of(file, "levels: []"),
        "escalation_policies[0].levels",
        "policy has no reachable target: no levels",
    )


def test_level_without_targets(tmp_path: Path) -> None:
    file = broken(tmp_path, lambda d: d["escalation_policies"][0]["levels"][1].update(targets=[]))
    issue = only_issue(file)
    assert (issue.path, issue.message) == (
        "escalation_policies[0].levels[1].targets",
        "policy has no reachable target: level has no targets",
    )


def test_level_whose_every_target_is_empty(tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["teams"].append({"id": "empty-team", "name": "Nobody"})
        d["escalation_policies"][0]["levels"][1]["targets"] = [{"type": "team", "id": "empty-team"}]

    issue = only_issue(broken(tmp_path, change))
    assert (issue.path, issue.message) == (
        "escalation_policies[0].levels[1].targets",
        "policy has no reachable target: every target of this level is empty",
    )


def test_unknown_field_suggests_the_right_name(tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["schedules"][0]["layers"][0]["particpants"] = ["a"]

    file = broken(tmp_path, change)
    assert only_issue(file) == ConfigIssue(
        str(file),
        line_of(file, "particpants:"),
        "schedules[0].layers[0].particpants",
        "unknown field 'particpants' (did you mean 'participants'?)",
    )


def test_type_error_and_missing_field(tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["escalation_policies"][0]["repeat"] = "often"
        del d["services"][0]["name"]

    file = broken(tmp_path, change)
    issues = issues_of(file)
    assert [(i.path, i.line) for i in issues] == [
        ("escalation_policies[0].repeat", line_of(file, "repeat: often")),
        ("services[0].name", line_of(file, "- id: svc")),
    ]
    assert "valid integer" in issues[0].message
    assert issues[1].message == "missing required field 'name'"


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text("teams:\n  - id: x\n    name: [unclosed\n")
    issue = only_issue(file)
    assert issue.file == str(file) and issue.line is not None and issue.line >= 3
    assert issue.message.startswith("invalid YAML")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    file = tmp_path / "list.yaml"
    file.write_text("- teams\n")
    assert only_issue(file).message == "the top level must be a mapping of sections (teams, users, ...)"


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["teams"][0]["members"].append("ghost")
        d["services"][0]["owner_team"] = "nobody"
        d["route_rules"][0]["service"] = "nowhere"

    assert len(issues_of(broken(tmp_path, change))) == 3


def test_missing_secret_in_environment(tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["integrations"][0] = {"id": "am", "type": "alertmanager", "key_env": "AM_KEY"}

    file = broken(tmp_path, change)
    assert only_issue(file) == ConfigIssue(
        str(file),
        line_of(file, "key_env: AM_KEY"),
        "integrations[0].key_env",
        "missing secret: environment variable 'AM_KEY' is not set",
    )
    assert load_config(file, environ={"AM_KEY": "s3cret"}).integration_keys == {"am": "s3cret"}


def test_key_file_is_relative_to_its_yaml_file(tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["integrations"][0] = {"id": "am", "type": "alertmanager", "key_file": "secrets/am.key"}

    file = broken(tmp_path, change)
    issue = only_issue(file)
    assert issue.path == "integrations[0].key_file"
    assert issue.message.startswith("missing secret: cannot read key_file")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "am.key").write_text("from-a-file\n")
    assert load_config(file, environ={}).integration_keys == {"am": "from-a-file"}


def test_inline_key_must_be_marked_development_only(tmp_path: Path) -> None:
    file = broken(tmp_path, lambda d: d["integrations"][0].pop("development_only"))
    issue = only_issue(file)
    assert issue.path == "integrations[0]"
    assert issue.message.startswith("inline 'key' is for development only")


def test_events_v2_key_length_and_duplicate_keys(tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["integrations"].append({"id": "pd", "type": "events_v2", "key": "short", "development_only": True})
        d["integrations"].append({"id": "am2", "type": "alertmanager", "key": "am-key", "development_only": True})

    messages = [issue.message for issue in issues_of(broken(tmp_path, change))]
    assert messages == [
        "events_v2 integration keys are 32 letters or digits (a routing_key); this one has 5 characters",
        "integration key already used by integration 'am'",
    ]


@pytest.mark.parametrize(
    "url", ["javascript:alert(document.cookie)", "JavaScript://x%0aalert(1)", "runbooks/x", "ftp://h/x"]
)
def test_a_runbook_url_is_a_web_address(tmp_path: Path, url: str) -> None:
    """Every team's console shows a service's runbook as a link: a ``javascript:`` one loaded."""
    issue = only_issue(broken(tmp_path, lambda d: d["services"][0].update(runbook_url=url)))
    assert (issue.path, issue.message) == ("services[0].runbook_url", "runbook_url is an http:// or https:// address")


def test_second_catch_all_and_invalid_regex(tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["route_rules"].append({"id": "all1", "service": "svc", "match": []})
        d["route_rules"].append({"id": "all2", "service": "svc", "match": []})
        d["route_rules"][0]["match"] = [{"label": "x", "op": "=~", "value": "(unclosed"}]

    issues = issues_of(broken(tmp_path, change))
    assert [(i.path, i.message.split(":")[0]) for i in issues] == [
        ("route_rules[0].match[0].value", "invalid regular expression"),
        ("route_rules[2].match", "second catch-all rule (first is 'all1')"),
    ]


def test_a_regex_is_checked_as_routing_compiles_it(tmp_path: Path) -> None:
    """Routing anchors an expression in a group; one that compiles alone but not anchored (a verbose-mode comment
    swallows the group's end) loaded, then failed every alert that reached its rule. Refused when loading now."""
    file = broken(tmp_path, lambda d: d["route_rules"][0].update(match=['service=~"(?x)svc # the service"']))
    issue = only_issue(file)
    assert issue.path == "route_rules[0].match[0].value"
    assert issue.message.startswith("invalid regular expression")


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("(?=prod)prod-.*", "invalid perl operator: (?="),  # lookahead: RE2, as Alertmanager's Go, has none
        ("(a)-\\1", "invalid escape sequence: \\1"),  # a backreference
        ("db-\ud800", "not valid Unicode text (an unpaired UTF-16 surrogate)"),  # YAML's "\ud800" loads
    ],
)
def test_a_regex_outside_re2_syntax_is_refused_with_its_reason(tmp_path: Path, expression: str, reason: str) -> None:
    file = broken(
        tmp_path, lambda d: d["route_rules"][0].update(match=[{"label": "x", "op": "=~", "value": expression}])
    )
    issue = only_issue(file)
    assert (issue.path, issue.message) == ("route_rules[0].match[0].value", f"invalid regular expression: {reason}")


def test_handoff_time_needs_a_calendar_turn_and_valid_clock(tmp_path: Path) -> None:
    file = broken(tmp_path, lambda d: d["schedules"][0]["layers"][0].update(turn="12h", handoff_time="25:00"))
    assert [i.message for i in issues_of(file)] == [
        "invalid time of day '25:00': expected \"HH:MM\" between 00:00 and 23:59",
    ]
    file = broken(tmp_path, lambda d: d["schedules"][0]["layers"][0].update(turn="12h", handoff_time="09:00"))
    assert only_issue(file).message == "handoff_time applies only to turns in days or weeks; hours are elapsed time"


def test_unquoted_clock_times_are_not_sexagesimal_numbers(tmp_path: Path) -> None:
    text = yaml.safe_dump(minimal_document(), sort_keys=False).replace(
        "turn:\n      days: 1", "turn:\n      days: 1\n    handoff_time: 12:30"
    )
    file = tmp_path / "ownership.yaml"
    file.write_text(text)
    layer = load_config(file, environ={}).config.schedules[0].layers[0]
    assert layer.handoff_time is not None and layer.handoff_time.isoformat() == "12:30:00"


def test_directory_merges_sections_and_checks_cross_file_references(tmp_path: Path) -> None:
    document = minimal_document()
    services, rules = document.pop("services"), document.pop("route_rules")
    write(tmp_path, "common.yaml", document)
    write(tmp_path, "team-a.yml", {"services": services, "route_rules": rules})
    (tmp_path / "notes.txt").write_text("not configuration")
    loaded = load_config(tmp_path, environ={})
    assert loaded.files == (str(tmp_path / "common.yaml"), str(tmp_path / "team-a.yml"))
    assert set(loaded.services_by_id) == {"svc"}


def test_version_ignores_formatting_and_follows_content(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    write(one, "x.yaml", minimal_document())
    (two / "x.yaml").write_text("# a comment\n" + yaml.safe_dump(minimal_document(), default_flow_style=True))
    assert load_config(one, environ={}).version == load_config(two, environ={}).version
    changed = minimal_document()
    changed["services"][0]["description"] = "now documented"
    write(two, "x.yaml", changed)
    assert load_config(one, environ={}).version != load_config(two, environ={}).version


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    assert only_issue(tmp_path / "absent.yaml").message == "no such file or directory"
    assert only_issue(tmp_path).message == "directory holds no .yaml or .yml file"


def test_disabled_integration_needs_no_secret_and_matches_no_key(tmp_path: Path) -> None:
    def change(d: dict[str, Any]) -> None:
        d["integrations"].append({"id": "off", "type": "alertmanager", "key_env": "UNSET_KEY", "enabled": False})
        d["integrations"].append(
            {"id": "off2", "type": "alertmanager", "key": "off-key", "development_only": True, "enabled": False}
        )

    loaded = load_config(broken(tmp_path, change), environ={})
    assert loaded.integration_for_key("off-key") is None
    assert "off" not in loaded.integration_keys
