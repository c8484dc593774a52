"""docker-compose.yml booted with podman-compose, with the start-up order Compose itself would enforce.

podman-compose translates the file (network with service-name DNS, volumes, environment, hardening, health
checks, published ports) and creates and starts the containers. Two gaps on Debian bookworm's podman 4.3 are
closed here, and only these:
- podman-compose waits for `service_healthy` only on podman ≥ 4.6 (it logs "Ignored … condition check" and starts
  the dependent at once), and `service_completed_successfully` is waited for as "stopped", exit code unchecked;
- podman runs health checks from systemd timers, and no systemd runs here, so a health status never changes.
So the services start stage by stage in the order of their `depends_on`, and each dependency is gated as Compose
gates it: its own health-check command run through `podman healthcheck run` until it passes, or its exit code 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import images  # noqa: E402

COMPOSE_FILE = ROOT / "docker-compose.yml"
HEALTHY = "service_healthy"
COMPLETED = "service_completed_successfully"


class BootError(RuntimeError):
    """A stage did not come up; the message carries the containers' logs."""


def stages(services: dict[str, dict[str, Any]], booted: set[str]) -> list[list[str]]:
    """The booted services in start order: each stage depends only on earlier ones (Compose's order)."""
    remaining = set(booted)
    order: list[list[str]] = []
    while remaining:
        ready = sorted(s for s in remaining if not (set(services[s].get("depends_on", {})) & remaining))
        if not ready:
            raise BootError(f"depends_on has a cycle among {sorted(remaining)}")
        order.append(ready)
        remaining -= set(ready)
    return order


def gates(services: dict[str, dict[str, Any]], booted: set[str]) -> dict[str, str]:
    """What each booted service must reach before its dependents start (the strictest condition asked)."""
    wanted: dict[str, str] = {}
    for name in booted:
        for dependency, rule in services[name].get("depends_on", {}).items():
            if wanted.get(dependency) != COMPLETED:
                wanted[dependency] = rule["condition"]
    return wanted


@dataclass
class ComposeProject:
    """One podman-compose project: its files, its variables, and the containers it created."""

    name: str
    override: Path
    environment: dict[str, str]
    log: list[str] = field(default_factory=list)

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "podman_compose", "--podman-args=--runtime=runc", "-p", self.name]
        command += ["-f", str(COMPOSE_FILE), "-f", str(self.override), *args]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env={**os.environ, **self.environment},
            cwd=ROOT,
            timeout=timeout,
            check=False,
        )
        self.log.append(f"$ podman-compose {' '.join(args)} -> {result.returncode}\n{result.stderr[-1500:]}")
        return result

    def up(self, services: list[str]) -> None:
        result = self.compose("up", "-d", "--no-build", "--no-deps", *services)
        if result.returncode != 0:
            raise BootError(f"podman-compose up {services} failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}")

    def container(self, service: str) -> str:
        listed = images.podman(
            "ps", "-a", "--filter", f"label=io.podman.compose.project={self.name}", "--format", "json"
        ).stdout
        for entry in json.loads(listed or "[]"):
            if entry["Labels"].get("com.docker.compose.service") == service:
                return str(entry["Names"][0])
        raise BootError(f"no container for {service} in project {self.name}")

    def wait_healthy(self, service: str, timeout: float = 180) -> float:
        """Runs the service's health check until it passes; the seconds it took."""
        name, started = self.container(service), time.monotonic()
        last = ""
        while time.monotonic() - started < timeout:
            check = images.podman("healthcheck", "run", name, check=False, timeout=60)
            if check.returncode == 0:
                return round(time.monotonic() - started, 1)
            last = (check.stdout + check.stderr).strip()
            state = images.podman("inspect", "--format", "{{.State.Status}}", name, check=False).stdout.strip()
            if state == "exited":
                break
            time.sleep(1)
        raise BootError(f"{service} not healthy after {round(time.monotonic() - started)} s ({last}):\n{self.logs()}")

    def wait_completed(self, service: str, timeout: float = 180) -> None:
        name = self.container(service)
        code = images.podman("wait", name, timeout=timeout).stdout.strip()
        if code != "0":
            raise BootError(f"{service} exited with {code}:\n{self.logs()}")

    def boot(self, services: dict[str, dict[str, Any]], booted: set[str]) -> dict[str, float]:
        """Starts the booted services stage by stage; every long-running one ends healthy. Seconds per stage."""
        wanted = gates(services, booted)
        timing: dict[str, float] = {}
        for number, stage in enumerate(stages(services, booted)):
            started = time.monotonic()
            self.up(stage)
            for service in stage:
                if wanted.get(service) == COMPLETED:
                    self.wait_completed(service)
                elif not services[service].get("healthcheck", {}).get("disable"):
                    self.wait_healthy(service)
            timing[f"stage {number}: {' '.join(stage)}"] = round(time.monotonic() - started, 1)
        return timing

    def logs(self) -> str:
        listed = images.podman(
            "ps", "-a", "--filter", f"label=io.podman.compose.project={self.name}", "--format", "{{.Names}}"
        )
        parts = ["\n".join(self.log[-6:])]
        for name in listed.stdout.split():
            logs = images.podman("logs", name, check=False)
            parts.append(f"--- {name}\n{(logs.stdout + logs.stderr)[-2000:]}")
        return "\n".join(parts)

    def down(self) -> None:
        self.compose("down", "-v", "-t", "5", timeout=180)
