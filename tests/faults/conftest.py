"""Fixtures of the fault-injection suite: one controllable stack at a time (a single broker, then a 3-broker
cluster), the suite's own PostgreSQL, the provider servers, and the session summary of every scenario's counts.

The stack is shared by the scenarios (starting Kafka and five processes per scenario would not fit the time
budget); each scenario starts from ``Stack.baseline()`` and tags its alerts with a run token of its own, so it
counts only its own incidents and pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import local_kafka
import local_postgres
import pytest

from tests.faults.providers import Arrivals, FaultCapture, FaultTwilio
from tests.faults.stack import Providers, Stack
from tests.faults.verify import REPORTS


class StackPool:
    """Holds at most one live stack; asking for another broker count tears the current one down first."""

    def __init__(
        self, factory: pytest.TempPathFactory, postgres: local_postgres.LocalPostgres, providers: Providers
    ) -> None:
        self.factory = factory
        self.postgres = postgres
        self.providers = providers
        self.current: Stack | None = None

    async def get(self, nodes: int) -> Stack:
        if self.current is not None and len(self.current.kafka.nodes) == nodes:
            return self.current
        await self.close()
        workdir = self.factory.mktemp(f"faults-{nodes}-broker")
        kafka = local_kafka.LocalKafka(workdir / "kafka", nodes=nodes, base_port=local_kafka.free_port_block(nodes))
        await asyncio.to_thread(kafka.start)
        database = f"faults_{nodes}"
        await asyncio.to_thread(self.postgres.create_database, database)
        stack = Stack(workdir, kafka, self.postgres, database, self.providers)
        self.current = stack
        await stack.prepare()
        return stack

    async def close(self) -> None:
        if self.current is not None:
            stack, self.current = self.current, None
            await stack.close()


@pytest.fixture(scope="session")
def fault_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local_postgres.LocalPostgres]:
    """A PostgreSQL of the suite's own: scenario 6 restarts it, which must not disturb other suites."""
    cluster = local_postgres.LocalPostgres(tmp_path_factory.mktemp("faults-pg"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def providers() -> Iterator[Providers]:
    capture, twilio = FaultCapture(), FaultTwilio()
    capture.start()
    twilio.start()
    try:
        yield Providers(capture, twilio)
    finally:
        capture.stop()
        twilio.stop()


@pytest.fixture(scope="session")
def arrivals(providers: Providers) -> Arrivals:
    return Arrivals(providers.capture, providers.twilio)


@pytest.fixture(scope="session")
async def stack_pool(
    tmp_path_factory: pytest.TempPathFactory, fault_postgres: local_postgres.LocalPostgres, providers: Providers
) -> AsyncIterator[StackPool]:
    pool = StackPool(tmp_path_factory, fault_postgres, providers)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def stack(stack_pool: StackPool) -> Stack:
    """The single-broker stack, at its baseline (one replica of each service, healthy providers)."""
    current = await stack_pool.get(nodes=1)
    await current.baseline()
    return current


@pytest.fixture
async def cluster_stack(stack_pool: StackPool) -> Stack:
    """The 3-broker stack (RF 3, min.insync.replicas 2), at its baseline."""
    current = await stack_pool.get(nodes=3)
    await current.baseline()
    return current


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Cluster scenarios last, so the single-broker stack is built once and torn down once."""
    cluster = [item for item in items if "cluster_stack" in getattr(item, "fixturenames", ())]
    if cluster:
        items[:] = [item for item in items if item not in cluster] + cluster


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORTS:
        terminalreporter.section("fault-injection scenarios")
        for report in REPORTS:
            terminalreporter.write_line(report.line())
