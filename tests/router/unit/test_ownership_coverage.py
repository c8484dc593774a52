"""Coverage lint and the `config validate` command: gaps, unreachable users and exit codes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml

from alertrouter_router.ownership.cli_validate import EXIT_COVERAGE, EXIT_INVALID, EXIT_OK, validate_command
from alertrouter_router.ownership.coverage import CoverageGap, UserProblem, coverage_report
from tests.router.unit.ownership_builders import berlin, config_from, minimal_document, user


def schedule_only_document() -> dict[str, Any]:
    """Policy p1 reaches only schedule s1, staffed 09:00-17:00 Berlin."""
    document = minimal_document()
    document["schedules"][0]["layers"][0]["restrictions"] = [{"start": "09:00", "end": "17:00"}]
    document["escalation_policies"][0]["levels"] = [
        {"delay_minutes": 10, "targets": [{"type": "schedule", "id": "s1"}]}
    ]
    return document


def test_gaps_outside_the_restricted_hours() -> None:
    report = coverage_report(config_from(schedule_only_document()), berlin(2024, 1, 2), days=1)
    assert report.gaps == [
        CoverageGap("svc", "p1", berlin(2024, 1, 2, 0), berlin(2024, 1, 2, 9)),
        CoverageGap("svc", "p1", berlin(2024, 1, 2, 17), berlin(2024, 1, 3, 0)),
    ]
    assert report.user_problems == []
    assert not report.ok


def test_a_slot_held_by_an_unreachable_user_is_a_gap() -> None:
    document = schedule_only_document()
    document["schedules"][0]["layers"][0].pop("restrictions")
    document["users"][1] = user("b", reachable=False)  # b holds 2024-01-02 09:00 - 2024-01-03 09:00
    report = coverage_report(config_from(document), berlin(2024, 1, 2), days=2)
    assert report.gaps == [CoverageGap("svc", "p1", berlin(2024, 1, 2, 9), berlin(2024, 1, 3, 9))]
    assert report.user_problems == [UserProblem("b", "no notification rules: no contact method is ever used")]


def test_any_reachable_team_member_covers_the_whole_period() -> None:
    report = coverage_report(config_from(minimal_document()), berlin(2024, 1, 2), days=14)
    assert report.gaps == []
    assert report.ok


def test_user_without_contact_methods() -> None:
    document = minimal_document()
    document["users"].append({"id": "e", "name": "E", "time_zone": "UTC"})
    report = coverage_report(config_from(document), berlin(2024, 1, 2), days=1)
    assert report.user_problems == [UserProblem("e", "no contact methods: this user can never be notified")]


def write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "ownership.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_validate_command_exit_codes(tmp_path: Path) -> None:
    out = io.StringIO()
    assert validate_command(write(tmp_path, minimal_document()), 14, now=berlin(2024, 1, 2), out=out) == EXIT_OK
    assert "is valid" in out.getvalue()

    out = io.StringIO()
    code = validate_command(write(tmp_path, schedule_only_document()), 1, now=berlin(2024, 1, 2), out=out)
    assert code == EXIT_COVERAGE
    assert "coverage gap: policy 'p1' (service 'svc') reaches nobody from 2024-01-01 23:00 UTC" in out.getvalue()

    broken = minimal_document()
    broken["services"][0]["owner_team"] = "nobody"
    out = io.StringIO()
    path = write(tmp_path, broken)
    assert validate_command(path, 14, now=berlin(2024, 1, 2), out=out) == EXIT_INVALID
    assert f"error: {path}:" in out.getvalue()
    assert "services[0].owner_team: unknown team 'nobody'" in out.getvalue()


def two_services_sharing(document: dict[str, Any]) -> dict[str, Any]:
    document["services"].append({**document["services"][0], "id": "svc2", "name": "Service two"})
    return document


def test_a_daily_gap_is_reported_once_for_every_service_of_the_policy(tmp_path: Path) -> None:
    document = two_services_sharing(schedule_only_document())
    config = config_from(document)
    report = coverage_report(config, berlin(2024, 1, 2, 12), days=14)
    assert len(report.gaps) == 2 * 14  # the raw intervals are still there, per service
    [finding] = report.findings
    assert (finding.escalation_policy_id, finding.service_ids, finding.recurrence) == ("p1", ("svc", "svc2"), "daily")
    assert finding.time_zone == "Europe/Berlin" and len(finding.occurrences) == 14
    assert finding.wall_window() == "every day 17:00-09:00 Europe/Berlin"
    assert finding.describe() == (
        "policy 'p1' (services 'svc', 'svc2') reaches nobody every day 17:00-09:00 Europe/Berlin "
        "(14 times from 2024-01-02 16:00 UTC to 2024-01-16 08:00 UTC)"
    )
    out = io.StringIO()
    assert validate_command(write(tmp_path, document), 14, now=berlin(2024, 1, 2, 12), out=out) == EXIT_COVERAGE
    assert out.getvalue().count("coverage gap:") == 1


def test_a_daily_gap_keeps_its_wall_time_across_dst() -> None:
    report = coverage_report(config_from(schedule_only_document()), berlin(2024, 3, 25, 12), days=14)
    [finding] = report.findings
    assert finding.recurrence == "daily" and finding.wall_window() == "every day 17:00-09:00 Europe/Berlin"


def test_a_weekend_gap_is_weekly() -> None:
    document = schedule_only_document()
    document["schedules"][0]["layers"][0]["restrictions"] = [
        {"start_day": "monday", "start_time": "08:00", "end_day": "friday", "end_time": "18:00"}
    ]
    [finding] = coverage_report(config_from(document), berlin(2024, 1, 2, 12), days=28).findings
    assert finding.recurrence == "weekly" and len(finding.occurrences) == 4
    assert finding.wall_window() == "every friday 18:00 - monday 08:00 Europe/Berlin"


def test_irregular_gaps_are_each_listed_once() -> None:
    document = minimal_document()
    document["schedules"][0]["layers"][0]["start"] = "2024-01-03T09:00:00"
    document["escalation_policies"][0]["levels"] = [
        {"delay_minutes": 10, "targets": [{"type": "schedule", "id": "s1"}]}
    ]
    [finding] = coverage_report(config_from(document), berlin(2024, 1, 2), days=3).findings
    assert finding.recurrence == "once"
    assert (
        finding.describe()
        == "policy 'p1' (service 'svc') reaches nobody from 2024-01-01 23:00 UTC to 2024-01-03 08:00 UTC"
    )


def test_validate_json_format(tmp_path: Path) -> None:
    import json

    out = io.StringIO()
    path = write(tmp_path, two_services_sharing(schedule_only_document()))
    assert validate_command(path, 3, now=berlin(2024, 1, 2, 12), out=out, output_format="json") == EXIT_COVERAGE
    body = json.loads(out.getvalue())
    assert body["valid"] is True and body["errors"] == [] and body["coverage"]["ok"] is False
    [gap] = body["coverage"]["gaps"]
    assert gap["services"] == ["svc", "svc2"] and gap["recurrence"] == "daily" and len(gap["occurrences"]) == 3
    assert gap["window"] == "every day 17:00-09:00 Europe/Berlin"
    out = io.StringIO()
    broken = minimal_document()
    broken["teams"][0]["members"].append("ghost")
    assert validate_command(write(tmp_path, broken), out=out, output_format="json") == EXIT_INVALID
    body = json.loads(out.getvalue())
    assert body["valid"] is False and body["coverage"] is None
    [error] = body["errors"]
    assert error["path"] == "teams[0].members[3]" and error["message"] == "unknown user 'ghost'"
    assert isinstance(error["line"], int) and error["file"].endswith("ownership.yaml")
