"""``alertrouter-router config validate PATH [--days N]``: a CI gate for configuration repositories.

Exit codes: 0 valid and covered, 1 invalid configuration, 2 valid but with coverage problems.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from alertrouter_router.ownership.coverage import coverage_report
from alertrouter_router.ownership.errors import ConfigError
from alertrouter_router.ownership.loader import load_config

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_COVERAGE = 2


def _local(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def validate_command(
    path: str | Path, days: int = 14, *, now: datetime | None = None, out: TextIO | None = None
) -> int:
    """Validate the configuration at ``path`` and lint coverage for ``days`` from ``now``; print findings."""
    stream = out or sys.stdout
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"error: {issue}", file=stream)
        print(f"{len(exc.issues)} error(s): configuration rejected", file=stream)
        return EXIT_INVALID
    start = now or datetime.now(UTC)
    report = coverage_report(loaded.config, start, days)
    print(f"configuration {loaded.short_version} is valid ({len(loaded.files)} file(s))", file=stream)
    for integration in loaded.config.integrations:
        if integration.allow_any_topic:
            print(
                f"warning: integration {integration.id!r} accepts any SNS topic (allow_any_topic: true): any AWS "
                "account holding its key can subscribe its own topic; list allowed_topic_arns instead",
                file=stream,
            )
    for gap in report.gaps:
        print(
            f"coverage gap: service {gap.service_id!r} (policy {gap.escalation_policy_id!r}) reaches nobody "
            f"from {_local(gap.start)} to {_local(gap.end)}",
            file=stream,
        )
    for problem in report.user_problems:
        print(f"user {problem.user_id!r}: {problem.message}", file=stream)
    if report.ok:
        print(f"coverage: every service reaches someone for the next {days} day(s)", file=stream)
        return EXIT_OK
    return EXIT_COVERAGE
