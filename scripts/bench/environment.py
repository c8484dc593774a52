"""The machine and the versions a run was measured with, read from /proc and the tools themselves."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from . import alertmanager
from .stack import ROOT, local_kafka, local_postgres

LIBRARIES = (
    "aiokafka",
    "asyncpg",
    "fastapi",
    "httpx",
    "orjson",
    "pydantic",
    "sqlalchemy",
    "structlog",
    "uvicorn",
    "uvloop",
)


def _run(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=20, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    lines = (result.stdout + result.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def postgres_version() -> str:
    try:
        return _run([str(local_postgres.find_pg_bin() / "postgres"), "--version"])
    except local_postgres.PostgresError as exc:
        return f"unavailable ({exc})"


def git_state() -> tuple[str, int]:
    """Read-only: the commit checked out and how many files differ from it (the tree may hold uncommitted work)."""
    commit = _run(["git", "rev-parse", "HEAD"])
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain"], capture_output=True, text=True, check=False, timeout=20, cwd=ROOT
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return commit, -1
    return commit, len([line for line in status.splitlines() if line.strip()])


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def describe(mode: str, command: str) -> dict[str, object]:
    commit, dirty = git_state()
    return {
        "mode": mode,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count() or 0,
        "memory_gib": memory_gib(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "kafka": f"Apache Kafka {local_kafka.DEFAULT_VERSION} (KRaft, 1 node, Maven Central jars)",
        "postgres": postgres_version(),
        "alertmanager": alertmanager.version(),
        "java": _run(["java", "-version"]),
        "git_commit": commit,
        "git_dirty_files": dirty,
        "libraries": library_versions(),
        "load_average_start": os.getloadavg(),
        "command": command,
    }
