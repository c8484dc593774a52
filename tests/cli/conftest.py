"""Running the ``alertrouter`` command: in-process for offline commands, as a process against a router.

The router here is a real one (consumers, timers, API) on a Kafka broker and a database of its own: a second
consuming router on the session's broker would process every other suite's alerts a second time and publish
pages they count. Its clock is the router suite's, because ``alert_event`` stamps events with it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import local_kafka
import pytest
from aiokafka import AIOKafkaProducer

from alertrouter_router.db.migrate import upgrade_to_head
from alertrouter_router.runtime import RouterRuntime
from alertrouter_shared.kafka import ensure_topics
from alertrouter_shared.settings import CommonSettings
from alertrouter_shared.topics import all_topics
from tests.helpers import DatabaseFactory, free_port_pair
from tests.router.conftest import CLOCK, TOKEN, router_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "ownership"
LABELLED = Path(__file__).parent / "fixtures" / "labelled"
COMMAND = Path(sys.executable).parent / "alertrouter"


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


async def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Ran:
    """The installed ``alertrouter`` as a process, so exit codes and stderr are exactly what a shell sees."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("ALERTROUTER_")}
    environ["ALERTROUTER_CLI_CONFIG"] = str(ROOT / "does-not-exist.toml")
    environ.update(env or {})
    process = await asyncio.create_subprocess_exec(
        str(COMMAND), *args, env=environ, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


@pytest.fixture(scope="session")
def cli_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cluster = local_kafka.LocalKafka(tmp_path_factory.mktemp("cli-kafka"), nodes=1, base_port=free_port_pair())
    try:
        cluster.start()
    except Exception as exc:
        cluster.stop()
        pytest.fail(
            f"could not start the local Kafka broker: {exc}\n"
            "Install a JDK 17+ and Maven, then run `python scripts/local_kafka.py fetch`.",
            pytrace=False,
        )
    try:
        asyncio.run(ensure_topics(CommonSettings(kafka_bootstrap_servers=cluster.bootstrap_servers), all_topics(1, 1)))
        yield cluster.bootstrap_servers
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def cli_database_url(databases: DatabaseFactory) -> str:
    url = databases.create()
    upgrade_to_head(url, wait=30)
    return url


@pytest.fixture(scope="session")
async def router(cli_kafka: str, cli_database_url: str) -> AsyncIterator[RouterRuntime]:
    runtime = RouterRuntime(router_settings(cli_kafka, cli_database_url), clock=CLOCK)
    await runtime.start()
    yield runtime
    runtime.stop()
    await asyncio.wait_for(runtime.wait(), 30)


@pytest.fixture(scope="session")
async def api(router: RouterRuntime) -> AsyncIterator[httpx.AsyncClient]:
    base = f"http://127.0.0.1:{router.state.settings.port}"
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
async def producer(cli_kafka: str) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=cli_kafka, enable_idempotence=True)
    await client.start()
    yield client
    await client.stop()
