"""A real Apache Kafka broker (KRaft, 1 or 3 nodes) on loopback, built from Maven Central jars.

Why: tests and the dev stack need a real broker (fault tests kill JVMs), but the machines have no Docker
and no Kafka tarball; Maven Central is reachable. Standard library only, because pytest fixtures import
this file through ``sys.path.insert(0, "scripts")``.

CLI: ``python scripts/local_kafka.py fetch|start|stop|status [--nodes 1|3] [--dir DIR] [--base-port N]``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from local_kafka_security import SecureListeners

DEFAULT_VERSION = "4.1.1"
SLF4J_VERSION = "1.7.36"
DEFAULT_BASE_PORT = 19092
PORT_STRIDE = 10000  # node n listens on base + (n-1)*stride, its controller on that port + 1
HOST = "127.0.0.1"
SCRIPTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCRIPTS_DIR.parent
POM = SCRIPTS_DIR / "kafka-pom.xml"
DEFAULT_DATA_DIR = REPO_ROOT / ".run" / "kafka"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
INSTALL_HINT = "install them with: apt-get install -y openjdk-17-jre-headless maven"
READY_MARKER = b"Kafka Server started"
STOP_GRACE_SECONDS = 20.0
# -XX:TieredStopAtLevel=1 (C1 only) halves the start time and the JIT CPU on 2 cores; drop it for benchmarks.
BROKER_JVM_OPTS = tuple(
    """-Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent
    -XX:ParallelGCThreads=1 -XX:ConcGCThreads=1 -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
    -Dorg.slf4j.simpleLogger.defaultLogLevel=info -Dorg.slf4j.simpleLogger.showDateTime=true
    -Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS
    -Dorg.slf4j.simpleLogger.log.org.apache.kafka.clients=warn""".split()  # noqa: SIM905
)
TOOL_JVM_OPTS = ("-Xmx256m", "-XX:TieredStopAtLevel=1")


class KafkaError(RuntimeError):
    """Raised with a message that says what to do; the CLI prints it and exits non-zero."""


# ---------------------------------------------------------------------------------------------- fetch


def cache_dir(version: str = DEFAULT_VERSION) -> Path:
    return REPO_ROOT / ".cache" / "kafka" / version


def check_tools(need_maven: bool) -> None:
    """Fail early with the install command, instead of a Java stack trace or 'command not found'."""
    java = shutil.which("java")
    if java is None:
        raise KafkaError(f"`java` (17+) is not on PATH; {INSTALL_HINT}")
    version_text = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_text)
    major = int(match.group(1)) if match else 0
    if match and major == 1 and match.group(2):
        major = int(match.group(2))
    if major < 17:
        raise KafkaError(f"Kafka 4.x needs Java 17+, found: {version_text.strip()!r}; {INSTALL_HINT}")
    if need_maven and shutil.which("mvn") is None:
        raise KafkaError(f"`mvn` (Maven 3.6.3+) is not on PATH; {INSTALL_HINT}")


def _complete_marker(version: str) -> Path:
    return cache_dir(version) / "complete.json"


def _is_complete(version: str) -> bool:
    marker = _complete_marker(version)
    lib = cache_dir(version) / "lib"
    if not marker.is_file():
        return False
    jars: list[str] = json.loads(marker.read_text())
    return bool(jars) and all((lib / jar).is_file() for jar in jars)


def ensure_fetched(version: str = DEFAULT_VERSION) -> Path:
    """Return the lib dir of a complete broker classpath, resolving it with Maven only when missing."""
    lib = cache_dir(version) / "lib"
    if _is_complete(version):
        return lib
    check_tools(need_maven=True)
    cache_dir(version).mkdir(parents=True, exist_ok=True)
    with _file_lock(cache_dir(version) / ".lock"):
        if _is_complete(version):  # another process fetched it while we waited
            return lib
        staging = cache_dir(version) / "lib.partial"
        shutil.rmtree(staging, ignore_errors=True)
        command = ["mvn", "-B", "-q", "-f", str(POM), f"{DEPENDENCY_PLUGIN}:copy-dependencies"]
        command += ["-DincludeScope=runtime", f"-DoutputDirectory={staging}"]
        command += [f"-Dkafka.version={version}", f"-Dslf4j.version={SLF4J_VERSION}"]
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=SCRIPTS_DIR)
        jars = sorted(p.name for p in staging.glob("*.jar")) if staging.is_dir() else []
        expected = {f"kafka_2.13-{version}.jar", f"slf4j-simple-{SLF4J_VERSION}.jar"}
        if result.returncode != 0 or not expected <= set(jars):
            output = (result.stdout + result.stderr)[-4000:]
            raise KafkaError(f"Maven could not resolve Kafka {version} (exit {result.returncode}):\n{output}")
        shutil.rmtree(lib, ignore_errors=True)
        staging.rename(lib)
        _complete_marker(version).write_text(json.dumps(jars, indent=1))
    return lib


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------- ports


def node_ports(base_port: int, nodes: int) -> list[tuple[int, int]]:
    """(broker, controller) port of each node: 19092/19093, 29092/29093, 39092/39093 for base 19092."""
    return [(base_port + i * PORT_STRIDE, base_port + i * PORT_STRIDE + 1) for i in range(nodes)]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the JVM sets it too
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def port_accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
        return True
    return False


def free_port_block(nodes: int = 1, low: int = 10000, high: int = 12700) -> int:
    """A base port whose whole layout is free; the default range stays below Linux's ephemeral ports
    (32768+) so client sockets cannot grab a broker port between the check and the bind."""
    candidates = list(range(low, high, 2))
    random.shuffle(candidates)
    for base in candidates:
        if all(port_is_free(p) for pair in node_ports(base, nodes) for p in pair):
            return base
    raise KafkaError(f"no free port block for {nodes} Kafka node(s) between {low} and {high}")


def free_ports(count: int, low: int = 12700, high: int = 14000) -> list[int]:
    """Single free ports (for extra listeners), from a range the port blocks of free_port_block do not use."""
    candidates = list(range(low, high))
    random.shuffle(candidates)
    found = [port for port in candidates if port_is_free(port)][:count]
    if len(found) < count:
        raise KafkaError(f"fewer than {count} free ports between {low} and {high}")
    return found


# ---------------------------------------------------------------------------------------------- nodes


def new_cluster_id() -> str:
    """Kafka's Uuid format: URL-safe base64 of 16 random bytes, never starting with '-' (CLI parsing)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass
class KafkaNode:
    node_id: int
    port: int
    controller_port: int
    node_dir: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def properties_path(self) -> Path:
        return self.node_dir / "server.properties"

    @property
    def log_dirs(self) -> Path:
        return self.node_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.node_dir / "kafka.log"

    @property
    def pid_file(self) -> Path:
        return self.node_dir / "kafka.pid"

    def pid(self) -> int | None:
        """Our live broker's pid, also when another process (the CLI) started it."""
        if self.process is not None:
            return self.process.pid if self.process.poll() is None else None
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if str(self.properties_path).encode() in cmdline and _state(pid) != "Z":
                return pid
        return None

    def is_running(self) -> bool:
        return self.pid() is not None


def _state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]


def _pid_alive(node: KafkaNode, pid: int) -> bool:
    if node.process is not None:
        return node.process.poll() is None
    try:
        return _state(pid) != "Z"
    except OSError:
        return False


def server_properties(node: KafkaNode, voters: str, nodes: int, secure: SecureListeners | None = None) -> str:
    """KRaft combined mode, tuned for 2 cores and fast tests (small internal topics, fast failover)."""
    replication = 3 if nodes >= 3 else 1
    min_isr = 2 if nodes >= 3 else 1
    listeners = [f"PLAINTEXT://{HOST}:{node.port}", f"CONTROLLER://{HOST}:{node.controller_port}"]
    protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
    if secure is not None:
        listeners += secure.listeners(HOST)
        protocols += ["SSL:SSL", "SASL_SSL:SASL_SSL", "SASL_PLAINTEXT:SASL_PLAINTEXT"]
    settings: dict[str, object] = {
        "process.roles": "broker,controller",
        "node.id": node.node_id,
        "controller.quorum.voters": voters,
        "listeners": ",".join(listeners),
        "advertised.listeners": ",".join(listeners),
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": ",".join(protocols),
        "log.dirs": node.log_dirs,
        "auto.create.topics.enable": "false",
        "num.partitions": 1,
        "default.replication.factor": replication,
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": replication,
        "offsets.topic.num.partitions": 3,
        "transaction.state.log.replication.factor": replication,
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": 3,
        "share.coordinator.state.topic.replication.factor": replication,
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": 0,
        "group.min.session.timeout.ms": 1000,
        "broker.session.timeout.ms": 4000,
        "broker.heartbeat.interval.ms": 1000,
        "num.network.threads": 2,
        "num.io.threads": 2,
        "num.replica.fetchers": 1,
        "background.threads": 2,
        "num.recovery.threads.per.data.dir": 1,
        "log.cleaner.threads": 1,
        "log.cleaner.dedupe.buffer.size": 2 * 1024 * 1024,
        **(secure.server_properties() if secure is not None else {}),
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


# ---------------------------------------------------------------------------------------------- cluster


class LocalKafka:
    """A cluster of 1 or 3 combined broker+controller JVMs, each a detached process with its own dir."""

    def __init__(
        self,
        data_dir: Path,
        nodes: int = 1,
        base_port: int = DEFAULT_BASE_PORT,
        version: str = DEFAULT_VERSION,
        jvm_opts: Sequence[str] = BROKER_JVM_OPTS,
        secure: SecureListeners | None = None,
    ) -> None:
        if nodes not in (1, 3):
            raise KafkaError(f"nodes must be 1 or 3, not {nodes}")
        if secure is not None and nodes != 1:
            raise KafkaError("secured listeners are supported on a single-node cluster only")
        self.secure = secure
        self.data_dir = Path(data_dir).resolve()
        self.version = version
        self.base_port = base_port
        self.jvm_opts = tuple(jvm_opts)
        self.nodes = [
            KafkaNode(i + 1, port, controller, self.data_dir / f"node-{i + 1}")
            for i, (port, controller) in enumerate(node_ports(base_port, nodes))
        ]

    @classmethod
    def attach(cls, data_dir: Path) -> LocalKafka:
        """The cluster a previous `start` (maybe another process) left in data_dir, for stop/status."""
        state_file = Path(data_dir) / "cluster.json"
        if not state_file.is_file():
            raise KafkaError(f"no Kafka cluster was started in {data_dir}")
        state = json.loads(state_file.read_text())
        return cls(Path(data_dir), state["nodes"], state["base_port"], state["version"])

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"{HOST}:{node.port}" for node in self.nodes)

    def node(self, node_id: int) -> KafkaNode:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise KafkaError(f"no Kafka node {node_id} (nodes: {[n.node_id for n in self.nodes]})")

    def start(self, timeout: float = 90) -> None:
        """Format (first time only) and start every node; return once all serve clients."""
        deadline = time.monotonic() + timeout
        lib = ensure_fetched(self.version)
        check_tools(need_maven=False)
        stopped = [node for node in self.nodes if not node.is_running()]
        self._check_ports_free(stopped)
        cluster_id = self._prepare_dir()
        self._format(lib, cluster_id, stopped)
        try:
            offsets = {node.node_id: self._spawn(node, lib) for node in stopped}
            for node in stopped:
                self._wait_ready(node, offsets[node.node_id], deadline)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM all nodes at once (a lone last controller would stall a sequential shutdown)."""
        self._terminate([node for node in self.nodes if node.is_running()], signal.SIGTERM)

    def stop_node(self, node_id: int) -> None:
        self._terminate([self.node(node_id)], signal.SIGTERM)

    def kill_node(self, node_id: int) -> None:
        """SIGKILL one broker: a crash, for fault tests."""
        self._terminate([self.node(node_id)], signal.SIGKILL)

    def start_node(self, node_id: int, timeout: float = 60) -> None:
        """Restart a stopped or killed node on its existing, already formatted dir."""
        node = self.node(node_id)
        if node.is_running():
            return
        if not (node.log_dirs / "meta.properties").is_file():
            raise KafkaError(f"node {node_id} was never formatted; start the cluster first")
        self._check_ports_free([node])
        offset = self._spawn(node, ensure_fetched(self.version))
        self._wait_ready(node, offset, time.monotonic() + timeout)

    def status(self) -> list[dict[str, object]]:
        return [
            {"node_id": n.node_id, "pid": n.pid(), "port": n.port, "serving": port_accepts(n.port)} for n in self.nodes
        ]

    # -- internals --

    def _check_ports_free(self, nodes: list[KafkaNode]) -> None:
        extra = self.secure.ports() if self.secure is not None else []
        busy = [p for node in nodes for p in (node.port, node.controller_port, *extra) if not port_is_free(p)]
        if busy:
            raise KafkaError(
                f"port(s) {busy} on {HOST} already in use (another Kafka, or Alertmanager on 9093?); "
                "stop that process or choose another --base-port"
            )

    def _prepare_dir(self) -> str:
        """Write cluster.json and each node's server.properties; keep the cluster id of a previous run."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        state_file = self.data_dir / "cluster.json"
        state = json.loads(state_file.read_text()) if state_file.is_file() else {}
        if state and state["nodes"] != len(self.nodes):
            raise KafkaError(f"{self.data_dir} holds a {state['nodes']}-node cluster; use a fresh --dir")
        cluster_id: str = state.get("cluster_id") or new_cluster_id()
        state = {
            "cluster_id": cluster_id,
            "nodes": len(self.nodes),
            "base_port": self.base_port,
            "version": self.version,
        }
        state_file.write_text(json.dumps(state, indent=1))
        voters = ",".join(f"{n.node_id}@{HOST}:{n.controller_port}" for n in self.nodes)
        for node in self.nodes:
            node.node_dir.mkdir(parents=True, exist_ok=True)
            node.properties_path.write_text(server_properties(node, voters, len(self.nodes), self.secure))
        return cluster_id

    def _format(self, lib: Path, cluster_id: str, nodes: list[KafkaNode]) -> None:
        """StorageTool once per new node dir, in parallel (each is a JVM start)."""
        fresh = [node for node in nodes if not (node.log_dirs / "meta.properties").is_file()]
        env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # KAFKA-15413
        tool = ["java", *TOOL_JVM_OPTS, "-cp", f"{lib}/*", "kafka.tools.StorageTool", "format"]
        scram = self.secure.format_arguments() if self.secure is not None else []
        jobs = [
            subprocess.Popen(
                [*tool, "-t", cluster_id, "-c", str(node.properties_path), "--ignore-formatted", *scram],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
            )
            for node in fresh
        ]
        for node, job in zip(fresh, jobs, strict=True):
            output, _ = job.communicate(timeout=120)
            if job.returncode != 0:
                raise KafkaError(f"formatting node {node.node_id} failed:\n{output.decode()[-3000:]}")

    def _spawn(self, node: KafkaNode, lib: Path) -> int:
        """Start the broker detached (own session); return the log offset its readiness is read from."""
        offset = node.log_file.stat().st_size if node.log_file.exists() else 0
        env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
        command = ["java", *self.jvm_opts, "-cp", f"{lib}/*", "kafka.Kafka", str(node.properties_path)]
        with node.log_file.open("ab") as log:
            node.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=node.node_dir,
                env=env,
                start_new_session=True,
            )
        node.pid_file.write_text(f"{node.process.pid}\n")
        return offset

    def _wait_ready(self, node: KafkaNode, offset: int, deadline: float) -> None:
        """Ready = the log says 'Kafka Server started' (broker unfenced) and the port accepts TCP."""
        while True:
            if not node.is_running():
                raise KafkaError(f"Kafka node {node.node_id} exited:\n{_tail(node.log_file, offset)}")
            if _log_contains(node.log_file, offset, READY_MARKER) and port_accepts(node.port):
                return
            if time.monotonic() > deadline:
                raise KafkaError(f"Kafka node {node.node_id} not ready in time:\n{_tail(node.log_file, offset)}")
            time.sleep(0.2)

    def _terminate(self, nodes: list[KafkaNode], sig: signal.Signals) -> None:
        """Send sig, wait up to STOP_GRACE_SECONDS, then SIGKILL; idempotent."""
        pids = {node.node_id: node.pid() for node in nodes}
        for node in nodes:
            pid = pids[node.node_id]
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for node in nodes:
            pid = pids[node.node_id]
            while pid is not None and _pid_alive(node, pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if pid is not None and _pid_alive(node, pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if node.process is not None:
                node.process.wait()
            reaped_by = time.monotonic() + 10
            while pid is not None and node.process is None and _pid_alive(node, pid):
                if time.monotonic() > reaped_by:
                    raise KafkaError(f"Kafka node {node.node_id} (pid {pid}) survived SIGKILL")
                time.sleep(0.05)  # not our child: wait until its parent or init has reaped it
            node.process = None
            node.pid_file.unlink(missing_ok=True)


def _log_contains(path: Path, offset: int, marker: bytes) -> bool:
    with path.open("rb") as log:
        log.seek(offset)
        return marker in log.read()


def _tail(path: Path, offset: int, lines: int = 40) -> str:
    with contextlib.suppress(OSError), path.open("rb") as log:
        log.seek(offset)
        return "\n".join(log.read().decode(errors="replace").splitlines()[-lines:])
    return "(no log)"


# ---------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=["fetch", "start", "stop", "status"])
    parser.add_argument("--nodes", type=int, choices=[1, 3], default=1)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DATA_DIR, help="data dir (default: .run/kafka)")
    parser.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT)
    parser.add_argument("--version", default=DEFAULT_VERSION, help="Kafka version (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            print(ensure_fetched(args.version))
        elif args.command == "start":
            cluster = LocalKafka(args.dir, args.nodes, args.base_port, args.version)
            cluster.start()
            print(cluster.bootstrap_servers)
        elif args.command == "stop":
            if (args.dir / "cluster.json").is_file():
                LocalKafka.attach(args.dir).stop()
        else:
            for row in LocalKafka.attach(args.dir).status():
                print(json.dumps(row))
    except KafkaError as error:
        print(f"local_kafka: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
