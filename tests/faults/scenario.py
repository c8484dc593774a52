"""One scenario run: its run token, its alert sender and the probes the tests wait on (always with a deadline)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tests.faults.alerts import AlertSender, new_run
from tests.faults.providers import Arrivals
from tests.faults.stack import Stack
from tests.faults.verify import Expect, Ledger, Report, verify
from tests.helpers import eventually


@dataclass
class Scenario:
    name: str
    stack: Stack
    arrivals: Arrivals
    run: str = field(default_factory=new_run)
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.ledger = Ledger(self.stack.dsn)
        self.sender = AlertSender(self.stack.url("ingest"))

    async def until_acknowledged(self, count: int, timeout: float = 60.0) -> None:
        async def enough() -> bool:
            return len(self.sender.acknowledged) >= count

        await eventually(enough, timeout=timeout, interval=0.05, what=f"{count} alerts acknowledged by ingest")

    async def until_incidents(self, count: int, timeout: float = 60.0) -> None:
        async def enough() -> bool:
            return sum((await self.ledger.incidents(self.run)).values()) >= count

        await eventually(enough, timeout=timeout, interval=0.2, what=f"{count} incidents of run {self.run}")

    async def until_arrived(self, channel: str, count: int, timeout: float = 60.0) -> None:
        async def enough() -> bool:
            return sum(1 for a in self.arrivals.of_run(self.run) if a.channel == channel) >= count

        await eventually(enough, timeout=timeout, interval=0.1, what=f"{count} {channel} pages of run {self.run}")

    async def verify(self, **expect: object) -> Report:
        return await verify(
            self.name,
            self.ledger,
            self.arrivals,
            Expect(self.run, set(self.sender.acknowledged), **expect),  # type: ignore[arg-type]
            self.started,
        )
