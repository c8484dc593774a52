"""State shared by the phases of one run: the plan, the running infrastructure, the sampler and the results."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .plan import Plan
from .procstats import Sampler
from .results import BenchResults
from .stack import Infra, Service, free_port, service_env


@dataclass
class BenchContext:
    plan: Plan
    infra: Infra
    sampler: Sampler
    results: BenchResults
    workdir: Path
    ports: dict[str, int] = field(
        default_factory=lambda: {"ingest": free_port(), "router": free_port(), "notifier": free_port()}
    )
    phase_number: int = 0
    expected_pages: dict[str, float] = field(default_factory=dict)  # accepted alerts that must page, by bench_id
    broker_warm: bool = False  # discarded load went through the broker (the intake phase, or warm_broker_alone)

    def service(self, name: str, extra_env: dict[str, str] | None = None) -> Service:
        env = service_env(self.infra, self.ports, extra_env)
        return Service(name, self.ports[name], env, self.workdir / f"{name}.log")

    def next_phase(self) -> int:
        self.phase_number += 1
        return self.phase_number

    def watch_infrastructure(self) -> None:
        self.sampler.watch("kafka", self.infra.kafka_pid)
        self.sampler.watch("postgres", self.infra.postgres_pid)
        self.sampler.watch("receiver", lambda: self.infra.receiver.pid)
        own_pid = os.getpid()
        self.sampler.watch("bench client", lambda: own_pid, tree=False)

    def unmeasured(self, phase: str, why: str) -> None:
        self.results.unmeasured[phase] = why
        print(f"[bench] {phase}: NOT MEASURED: {why}", flush=True)
