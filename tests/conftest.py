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
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

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
# ``make test`` runs the suite on two pytest-xdist workers (``-n 2 --dist loadfile``): each file stays on one worker,
# in its order (module fixtures start once, and a file may check what its earlier tests did). These run on one
# worker, one after another, while the other takes the rest: the fault scenarios share one session stack pool (its
# own Kafka, PostgreSQL and services), and the image tests build and run the same podman images.
SERIAL_MARKERS = ("faults", "images")
SERIAL_PATHS = (
    "tests/faults/",
    "tests/deploy/test_compose_boot.py",
    "tests/deploy/test_images.py",
    "tests/deploy/test_kube_play.py",
    "tests/infra/test_bootstrap_bare.py",
    "tests/ingest/test_kafka_midrequest.py",
    "tests/ingest/test_kafka_restart.py",
)


def _scope(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return "serial" if path.startswith(SERIAL_PATHS) else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's ``loadfile``, with the serial files as one scope. (Its ``loadgroup`` marks nothing under pytest 9:
    it renames ``item._nodeid``, which pytest 9 no longer reads, so every test went to either worker.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class FilesAndSerial(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return _scope(nodeid)

    return FilesAndSerial(config, log)


def pytest_itemcollected(item: pytest.Item) -> None:
    """The scheduler sees node ids only: a test marked serial outside SERIAL_PATHS would run beside the others."""
    if any(item.get_closest_marker(name) for name in SERIAL_MARKERS) and _scope(item.nodeid) != "serial":
        raise pytest.UsageError(f"{item.nodeid} is marked {SERIAL_MARKERS} but its file is not in SERIAL_PATHS")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """xdist schedules by node id and keeps a repeated one once: schemathesis's ``parametrize`` gave twelve tests
    one id, and eleven of them never ran under ``make test``."""
    counted = Counter(item.nodeid for item in items)
    repeated = [nodeid for nodeid, count in counted.items() if count > 1]
    if repeated:
        raise pytest.UsageError(f"tests with the same node id (xdist would run one): {sorted(repeated)[:5]}")


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
