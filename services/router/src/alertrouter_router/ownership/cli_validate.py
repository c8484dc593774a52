"""``config validate PATH [--days N] [--format json]``: a CI gate for configuration repositories.

Exit codes: 0 valid and covered, 1 invalid configuration, 2 valid but with coverage problems. The JSON form
carries the same findings as data (errors with file and line, gaps with their occurrences) for CI annotations.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from alertrouter_router.ownership.coverage import CoverageReport, coverage_report
from alertrouter_router.ownership.errors import ConfigError, ConfigIssue
from alertrouter_router.ownership.gap_patterns import GapFinding
from alertrouter_router.ownership.loader import LoadedConfig, load_config

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_COVERAGE = 2

OutputFormat = Literal["text", "json"]


def _issue_json(issue: ConfigIssue) -> dict[str, Any]:
    return {"file": issue.file, "line": issue.line, "path": issue.path, "message": issue.message}


def _finding_json(finding: GapFinding) -> dict[str, Any]:
    return {
        "policy": finding.escalation_policy_id,
        "services": list(finding.service_ids),
        "time_zone": finding.time_zone,
        "recurrence": finding.recurrence,
        "window": finding.wall_window() if finding.recurrence != "once" else None,
        "message": finding.describe(),
        "occurrences": [{"start": s.isoformat(), "end": e.isoformat()} for s, e in finding.occurrences],
    }


def _report_json(loaded: LoadedConfig, report: CoverageReport, days: int) -> dict[str, Any]:
    return {
        "valid": True,
        "version": loaded.version,
        "files": list(loaded.files),
        "errors": [],
        "coverage": {
            "from": report.start.isoformat(),
            "to": report.end.isoformat(),
            "days": days,
            "ok": report.ok,
            "gaps": [_finding_json(finding) for finding in report.findings],
            "user_problems": [{"user": p.user_id, "message": p.message} for p in report.user_problems],
        },
    }


def _print_text(loaded: LoadedConfig, report: CoverageReport, days: int, stream: TextIO) -> None:
    print(f"configuration {loaded.short_version} is valid ({len(loaded.files)} file(s))", file=stream)
    for finding in report.findings:
        print(f"coverage gap: {finding.describe()}", file=stream)
    for problem in report.user_problems:
        print(f"user {problem.user_id!r}: {problem.message}", file=stream)
    if report.ok:
        print(f"coverage: every service reaches someone for the next {days} day(s)", file=stream)


def validate_command(
    path: str | Path,
    days: int = 14,
    *,
    now: datetime | None = None,
    out: TextIO | None = None,
    output_format: OutputFormat = "text",
    secrets: bool = True,
) -> int:
    """Validate the configuration at ``path`` and lint coverage for ``days`` from ``now``; print findings.

    ``secrets=False`` leaves integration keys unread, for CI jobs that do not hold the deployment's secrets.
    """
    stream = out or sys.stdout
    try:
        loaded = load_config(path, secrets=secrets)
    except ConfigError as exc:
        if output_format == "json":
            body = {"valid": False, "errors": [_issue_json(issue) for issue in exc.issues], "coverage": None}
            print(json.dumps(body, indent=2), file=stream)
            return EXIT_INVALID
        for issue in exc.issues:
            print(f"error: {issue}", file=stream)
        print(f"{len(exc.issues)} error(s): configuration rejected", file=stream)
        return EXIT_INVALID
    report = coverage_report(loaded.config, now or datetime.now(UTC), days)
    if output_format == "json":
        print(json.dumps(_report_json(loaded, report, days), indent=2), file=stream)
    else:
        _print_text(loaded, report, days, stream)
    return EXIT_OK if report.ok else EXIT_COVERAGE
