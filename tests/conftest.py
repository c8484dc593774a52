"""Session-wide real components: one local Apache Kafka broker and one throwaway PostgreSQL cluster.

Both are started by the project's own scripts (scripts/local_kafka.py, scripts/local_postgres.py). When
``KAFKA_BOOTSTRAP_SERVERS_TEST`` or ``DATABASE_URL_TEST`` is set, the tests use that instead of starting one.
A component that cannot start fails the tests with the message that says how to get it; nothing is skipped.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import local_kafka  # noqa: E402
import local_postgres  # noqa: E402

from alertrouter_shared.kafka import ensure_topics  # noqa: E402
from alertrouter_shared.settings import CommonSettings  # noqa: E402
from alertrouter_shared.topics import all_topics  # noqa: E402
from tests.helpers import DatabaseFactory, free_port_pair  # noqa: E402

TEST_PARTITIONS = 3


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS_TEST")
    if given:
        asyncio.run(ensure_topics(CommonSettings(kafka_bootstrap_servers=given), all_topics(TEST_PARTITIONS, 1)))
        yield given
        return
    cluster = local_kafka.LocalKafka(tmp_path_factory.mktemp("kafka"), nodes=1, base_port=free_port_pair())
    try:
        cluster.start()
    except Exception as exc:
        cluster.stop()
        pytest.fail(
            f"could not start the local Kafka broker: {exc}\n"
            "Install a JDK 17+ and Maven (apt-get install -y openjdk-17-jre-headless maven), then run "
            "`python scripts/local_kafka.py fetch`; or set KAFKA_BOOTSTRAP_SERVERS_TEST to a running broker.",
            pytrace=False,
        )
    try:
        asyncio.run(
            ensure_topics(
                CommonSettings(kafka_bootstrap_servers=cluster.bootstrap_servers), all_topics(TEST_PARTITIONS, 1)
            )
        )
        yield cluster.bootstrap_servers
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local_postgres.LocalPostgres | None]:
    if os.environ.get("DATABASE_URL_TEST"):
        yield None
        return
    cluster = local_postgres.LocalPostgres(tmp_path_factory.mktemp("pg"))
    try:
        cluster.start()
    except Exception as exc:
        cluster.stop()
        pytest.fail(
            f"could not start a local PostgreSQL: {exc}\n"
            "Install the server (apt-get install -y postgresql) or set DATABASE_URL_TEST.",
            pytrace=False,
        )
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def databases(postgres_cluster: local_postgres.LocalPostgres | None) -> DatabaseFactory:
    return DatabaseFactory(postgres_cluster)


@pytest.fixture(scope="session")
def database_url(databases: DatabaseFactory) -> str:
    """An empty database shared by the whole session (suites apply their own migrations)."""
    return databases.create()


@pytest.fixture
def unique() -> str:
    """A short unique token for labels and keys, so tests sharing the broker never see each other's data."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
async def anyio_backend() -> AsyncIterator[str]:
    yield "asyncio"
