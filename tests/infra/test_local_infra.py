"""The local infrastructure scripts start real services that real clients can use, and stop them cleanly."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import UnknownTopicOrPartitionError

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import local_kafka  # noqa: E402
import local_postgres  # noqa: E402

from tests.helpers import eventually  # noqa: E402


def port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def process_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def kafka_single(tmp_path: Path) -> Iterator[local_kafka.LocalKafka]:
    cluster = local_kafka.LocalKafka(tmp_path / "kafka", nodes=1, base_port=local_kafka.free_port_block(1))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def kafka_trio(tmp_path: Path) -> Iterator[local_kafka.LocalKafka]:
    cluster = local_kafka.LocalKafka(tmp_path / "kafka3", nodes=3, base_port=local_kafka.free_port_block(3))
    try:
        yield cluster
    finally:
        cluster.stop()


async def create_topic(bootstrap: str, topic: str, replication: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=replication)])
        errors = [error for _, error, *_ in response.topic_errors if error != 0]
        assert errors == [], f"create_topics failed: {response.topic_errors}"
    finally:
        await admin.close()


async def cluster_broker_ids(bootstrap: str) -> set[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        return {broker["node_id"] for broker in cluster["brokers"]}
    finally:
        await admin.close()


async def partition_leader(bootstrap: str, topic: str) -> int:
    """The leader of the topic's partition, once there is one: a broker answering just after the topic was created
    (or its leader died) may not know the partition yet, or know it without a leader (-1)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()

    async def leader() -> tuple[int] | None:  # a tuple: node id 0 would read as "not yet"
        (described,) = await admin.describe_topics([topic])
        partitions = described["partitions"]
        return (int(partitions[0]["leader"]),) if partitions and int(partitions[0]["leader"]) >= 0 else None

    try:
        (node,) = await eventually(leader, timeout=30, what=f"a leader for {topic}")
        return node
    finally:
        await admin.close()


async def consume_values(bootstrap: str, topic: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"infra-test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while len(values) < count:
                batches = await consumer.getmany(timeout_ms=500)
                values += [record.value for records in batches.values() for record in records]
    finally:
        await consumer.stop()
    return values


@pytest.mark.kafka
async def test_single_node_serves_clients_and_stops_cleanly(kafka_single: local_kafka.LocalKafka) -> None:
    kafka_single.start()
    bootstrap = kafka_single.bootstrap_servers
    node = kafka_single.nodes[0]
    assert bootstrap == f"127.0.0.1:{node.port}"
    pid = node.pid()
    assert pid is not None
    assert (node.node_dir / "kafka.pid").read_text().strip() == str(pid)
    assert "Kafka Server started" in node.log_file.read_text()

    await create_topic(bootstrap, "infra.single", replication=1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait("infra.single", b"hello", key=b"k")
    finally:
        await producer.stop()
    assert await consume_values(bootstrap, "infra.single", 1) == [b"hello"]
    await assert_topics_are_not_auto_created(bootstrap)

    kafka_single.stop()
    assert not port_accepts(node.port)
    assert not port_accepts(node.controller_port)
    assert not process_alive(pid)
    assert not node.pid_file.exists()
    kafka_single.stop()  # idempotent


async def assert_topics_are_not_auto_created(bootstrap: str) -> None:
    """The project creates its topics explicitly; a typo in a topic name must not silently create one."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    await producer.start()
    try:
        with pytest.raises(UnknownTopicOrPartitionError):
            await producer.send_and_wait("infra.not-created", b"x")
    finally:
        await producer.stop()
    assert "infra.not-created" not in await list_topics(bootstrap)


async def list_topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


@pytest.mark.kafka
def test_start_fails_clearly_when_a_port_is_taken(tmp_path: Path) -> None:
    base = local_kafka.free_port_block(1)
    cluster = local_kafka.LocalKafka(tmp_path / "kafka", nodes=1, base_port=base)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base + 1))  # the controller port
        squatter.listen()
        with pytest.raises(local_kafka.KafkaError, match=rf"\[{base + 1}\].*already in use"):
            cluster.start()
    assert cluster.nodes[0].pid() is None


@pytest.mark.kafka
async def test_three_nodes_keep_accepting_acks_all_writes_when_the_leader_crashes(
    kafka_trio: local_kafka.LocalKafka,
) -> None:
    started = time.monotonic()
    kafka_trio.start()
    assert time.monotonic() - started < 60
    bootstrap = kafka_trio.bootstrap_servers
    assert len(bootstrap.split(",")) == 3
    assert await cluster_broker_ids(bootstrap) == {1, 2, 3}
    await create_topic(bootstrap, "infra.replicated", replication=3)

    leader = await partition_leader(bootstrap, "infra.replicated")
    killed_pid = kafka_trio.node(leader).pid()
    assert killed_pid is not None
    kafka_trio.kill_node(leader)
    assert not process_alive(killed_pid)
    assert not port_accepts(kafka_trio.node(leader).port)

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=10000)
    await producer.start()
    try:
        async with asyncio.timeout(30):
            for i in range(5):
                await producer.send_and_wait("infra.replicated", f"after-crash-{i}".encode())
    finally:
        await producer.stop()
    assert await partition_leader(bootstrap, "infra.replicated") != leader

    kafka_trio.start_node(leader)
    assert kafka_trio.node(leader).pid() not in (None, killed_pid)
    assert await cluster_broker_ids(bootstrap) == {1, 2, 3}
    values = await consume_values(bootstrap, "infra.replicated", 5)
    assert values == [f"after-crash-{i}".encode() for i in range(5)]


def run_cli(script: str, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.kafka
def test_cli_names_the_packages_to_install_when_java_is_missing(tmp_path: Path) -> None:
    result = run_cli("local_kafka.py", "start", "--dir", str(tmp_path / "k"), path=str(tmp_path))
    assert result.returncode == 1
    assert "apt-get install -y openjdk-17-jre-headless maven" in result.stderr


@pytest.mark.kafka
def test_cli_fetch_is_idempotent_and_status_without_cluster_fails() -> None:
    fetched = run_cli("local_kafka.py", "fetch")
    assert fetched.returncode == 0, fetched.stderr
    lib = Path(fetched.stdout.strip())
    assert (lib / f"kafka_2.13-{local_kafka.DEFAULT_VERSION}.jar").is_file()
    assert (lib / "slf4j-simple-1.7.36.jar").is_file()
    assert not list(lib.glob("slf4j-api-2*.jar"))
    assert run_cli("local_kafka.py", "fetch").stdout == fetched.stdout

    status = run_cli("local_kafka.py", "status", "--dir", "/nonexistent/kafka")
    assert status.returncode == 1
    assert "no Kafka cluster was started" in status.stderr


@pytest.fixture
def postgres() -> Iterator[local_postgres.LocalPostgres]:
    """Below a 0700 folder, like pytest's own /tmp/pytest-of-root: the server user must still reach it. A short one
    (mkdtemp makes it 0700): under pytest-xdist tmp_path is long enough to pass the unix socket path's limit."""
    private = Path(tempfile.mkdtemp(prefix="ar-pg-"))
    cluster = local_postgres.LocalPostgres(private / "pg")
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(private, ignore_errors=True)


@pytest.mark.db
async def test_postgres_serves_asyncpg_survives_restart_and_stops(postgres: local_postgres.LocalPostgres) -> None:
    postgres.start()
    assert postgres.url() == f"postgresql+asyncpg://postgres@127.0.0.1:{postgres.port}/alertrouter"
    connection = await asyncpg.connect(postgres.dsn())
    try:
        assert await connection.fetchval("SELECT 1") == 1
        assert await connection.fetchval("SELECT current_database()") == "alertrouter"
        assert await connection.fetchval("SHOW listen_addresses") == "127.0.0.1"
    finally:
        await connection.close()

    postgres.create_database("second db")
    postgres.create_database("second db")  # idempotent
    connection = await asyncpg.connect(postgres.dsn("second db"))
    await connection.execute("CREATE TABLE kept (id int)")
    await connection.execute("INSERT INTO kept VALUES (42)")
    await connection.close()

    postgres.restart()
    connection = await asyncpg.connect(postgres.dsn("second db"))
    try:
        assert await connection.fetchval("SELECT id FROM kept") == 42
    finally:
        await connection.close()

    postgres.stop()
    assert postgres.data_dir.parent.stat().st_mode & 0o777 == 0o700
    assert not port_accepts(postgres.port)
    assert not postgres.is_running()
    postgres.stop()  # idempotent


@pytest.mark.db
def test_postgres_refuses_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        cluster = local_postgres.LocalPostgres(tmp_path / "pg", port=busy)
        with pytest.raises(local_postgres.PostgresError, match="already in use"):
            cluster.start()
    assert not cluster.is_running()


@pytest.mark.db
def test_postgres_cli_start_status_stop(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "pgcli")
    started = run_cli("local_postgres.py", "start", "--dir", data_dir)
    try:
        assert started.returncode == 0, started.stderr
        assert started.stdout.startswith("postgresql+asyncpg://postgres@127.0.0.1:")
        status = run_cli("local_postgres.py", "status", "--dir", data_dir)
        assert status.returncode == 0
        assert status.stdout.split()[0] == "running"
    finally:
        stopped = run_cli("local_postgres.py", "stop", "--dir", data_dir)
    assert stopped.returncode == 0, stopped.stderr
    assert run_cli("local_postgres.py", "status", "--dir", data_dir).returncode == 3
