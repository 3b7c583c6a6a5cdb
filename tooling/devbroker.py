"""Apache Kafka for development and tests: a pinned broker from Maven Central, in KRaft mode.

Everything that knows how a local Kafka node is fetched, configured, formatted and started lives
here; ``tooling.stack`` only decides how many nodes run beside Redis and records where.

- **Jars**: Maven resolves ``org.apache.kafka:kafka_2.13:KAFKA_VERSION`` (plus the log4j2 binding
  for slf4j, which the POM does not bring) into a cache directory shared by every
  ``$BORDERSYNC_HOME``, so a second start downloads nothing and needs no network.
- **Nodes**: combined broker + controller (``process.roles=broker,controller``) with a static
  voter list, so one node and three nodes are the same code. Storage is formatted once per node;
  data lives under ``$BORDERSYNC_HOME/kafka`` and survives ``dev down`` / ``dev up``.
- **Ports**: chosen once (the first broker's from ``BORDERSYNC_DEV_BROKER_PORT``, the rest free
  loopback ports) and recorded in ``cluster.json`` beside the data, so clients keep their
  bootstrap address across restarts.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

KAFKA_VERSION = "4.4.0"
SCALA_VERSION = "2.13"
LOG4J_VERSION = "2.25.5"  # the log4j2 kafka_2.13:KAFKA_VERSION depends on; binding pinned alike
BROKER_MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"

_POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>bordersync.dev</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>{KAFKA_VERSION}</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_{SCALA_VERSION}</artifactId>
      <version>{KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{LOG4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
"""

# WARN and above, plus the one line that says the server is up: quiet by default.
_LOG4J2 = """status = error
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = OUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
"""


class BrokerSetupError(RuntimeError):
    """Java, Maven or the jars are missing, or a node could not be formatted: says the fix."""


def describe() -> str:
    """The broker's name and version, as ``make test`` logs and ``bench --json`` reports it."""
    return f"apache-kafka {KAFKA_VERSION}"


def cache_dir() -> Path:
    """Where the jars are kept: ``$BORDERSYNC_KAFKA_CACHE``, else the user's cache directory."""
    explicit = os.environ.get("BORDERSYNC_KAFKA_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bordersync" / f"kafka-{KAFKA_VERSION}"


def _required(command: str, why: str, package: str) -> str:
    """The command's path, or an error that says what needs it and which Debian package has it."""
    found = shutil.which(command)
    if not found:
        raise BrokerSetupError(f"{command} not found: {why}; install Debian's package: "
                               f"apt-get install {package} (make install does)")
    return found


def java_binary() -> str:
    return _required("java", "Apache Kafka needs Java 17+", "openjdk-17-jre-headless")


def _maven_binary() -> str:
    return _required("mvn", "the Kafka jars come from Maven Central through Maven", "maven")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One fetch at a time per cache (parallel test sessions, dev up beside make test)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_jars() -> Path:
    """The directory of broker jars, fetched through Maven on first use (then cached)."""
    target = cache_dir() / "jars"
    done = cache_dir() / "complete"
    if done.exists():
        return target
    with _locked(cache_dir().with_name(cache_dir().name + ".lock")):
        if done.exists():
            return target
        mvn = _maven_binary()
        java_binary()
        work = Path(tempfile.mkdtemp(prefix="fetch-", dir=cache_dir().parent))
        try:
            (work / "pom.xml").write_text(_POM)
            result = subprocess.run(
                [mvn, "-q", "-B", "-f", str(work / "pom.xml"), "dependency:copy-dependencies",
                 "-DincludeScope=runtime", f"-DoutputDirectory={work / 'jars'}"],
                capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
            )
            if result.returncode != 0:
                tail = "\n".join((result.stdout + result.stderr).splitlines()[-12:])
                raise BrokerSetupError(
                    f"Maven could not fetch org.apache.kafka:kafka_{SCALA_VERSION}:{KAFKA_VERSION} "
                    f"from Maven Central (exit {result.returncode}):\n{tail}"
                )
            cache_dir().mkdir(parents=True, exist_ok=True)
            shutil.rmtree(target, ignore_errors=True)
            (work / "jars").rename(target)
            (cache_dir() / "pom.xml").write_text(_POM)
            done.write_text(KAFKA_VERSION + "\n")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


@dataclass(frozen=True)
class Node:
    node_id: int
    port: int  # client listener
    controller_port: int


@dataclass(frozen=True)
class Cluster:
    """A local cluster's identity and ports, recorded in ``$home/kafka/cluster.json``."""

    cluster_id: str
    nodes: tuple[Node, ...]
    version: str = KAFKA_VERSION
    # TLS + SASL/SCRAM listeners only (``dev up --secure``, ``tooling.securestack``).
    secure: bool = False

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    @property
    def voters(self) -> str:
        return ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)


def kafka_dir(home: Path) -> Path:
    return home / "kafka"


def node_dir(home: Path, node: Node) -> Path:
    return kafka_dir(home) / f"node-{node.node_id}"


def read_cluster(home: Path) -> Cluster | None:
    path = kafka_dir(home) / "cluster.json"
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text())
        nodes = tuple(Node(**n) for n in raw["nodes"])
        return Cluster(raw["cluster_id"], nodes, raw.get("version", KAFKA_VERSION),
                       bool(raw.get("secure", False)))
    except (ValueError, TypeError, KeyError):
        return None


def write_cluster(home: Path, cluster: Cluster) -> None:
    kafka_dir(home).mkdir(parents=True, exist_ok=True)
    raw: dict[str, object] = {"cluster_id": cluster.cluster_id, "version": cluster.version,
                              "nodes": [asdict(n) for n in cluster.nodes]}
    if cluster.secure:
        raw["secure"] = True
    (kafka_dir(home) / "cluster.json").write_text(json.dumps(raw, indent=2) + "\n")


def new_cluster(first_port: int, count: int, free_port: Callable[[], int],
                secure: bool = False) -> Cluster:
    """A new identity: node 1 serves ``first_port``; every other port is a free loopback one."""
    ports: list[int] = [first_port]
    while len(ports) < 2 * count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    nodes = tuple(Node(i + 1, ports[i], ports[count + i]) for i in range(count))
    # Kafka's cluster id is a Uuid in URL-safe base64 without padding (what random-uuid prints).
    return Cluster(base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode(), nodes,
                   secure=secure)


def node_properties(home: Path, cluster: Cluster, node: Node,
                    overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """A node's ``server.properties``: combined mode, loopback, and single-node-safe internal
    topics (replication 1 on one node; 3 with ``min.insync.replicas=2`` on three)."""
    replicas = min(len(cluster.nodes), 3)
    isr = 2 if replicas >= 3 else 1
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": cluster.voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(node_dir(home, node) / "data"),
        # Topics are created explicitly (`topics create`), never by a stray produce or fetch.
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
        "default.replication.factor": str(replicas),
        "min.insync.replicas": str(isr),
        "offsets.topic.replication.factor": str(replicas),
        # Fewer internal partitions than production's 50: a dev node creates them on first use.
        "offsets.topic.num.partitions": "8",
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(isr),
        "transaction.state.log.num.partitions": "8",
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": str(isr),
        # Tests and the demo join groups constantly: no initial delay.
        "group.initial.rebalance.delay.ms": "0",
        "log.segment.bytes": str(64 * 1024 * 1024),
        "log.index.size.max.bytes": str(1024 * 1024),
    }
    props.update(overrides or {})
    return props


def write_node_files(home: Path, cluster: Cluster, node: Node,
                     overrides: Mapping[str, str] | None = None) -> Path:
    directory = node_dir(home, node)
    directory.mkdir(parents=True, exist_ok=True)
    props = node_properties(home, cluster, node, overrides)
    path = directory / "server.properties"
    if cluster.secure:
        # It holds the inter-broker SCRAM password: owner only, from creation on.
        from bordersync.security.secretfile import write_secret

        write_secret(path, "".join(f"{k}={v}\n" for k, v in props.items()).encode())
    else:
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    (kafka_dir(home) / "log4j2.properties").write_text(_LOG4J2)
    return path


def is_formatted(home: Path, node: Node) -> bool:
    return (node_dir(home, node) / "data" / "meta.properties").exists()


def format_commands(home: Path, cluster: Cluster, jars: Path,
                    extra: list[str] | None = None) -> list[tuple[Node, list[str]]]:
    """The ``StorageTool format`` call of each node not yet formatted (run once per node)."""
    todo = []
    for node in cluster.nodes:
        if is_formatted(home, node):
            continue
        props = node_dir(home, node) / "server.properties"
        todo.append((node, [java_binary(), "-Xmx256m", "-cp", f"{jars}/*", STORAGE_TOOL, "format",
                            f"--cluster-id={cluster.cluster_id}", "-c", str(props),
                            "--ignore-formatted",
                            *(extra or [])]))
    return todo


def format_nodes(home: Path, cluster: Cluster, jars: Path, extra: list[str] | None = None) -> None:
    """Format every unformatted node, in parallel (each is a JVM start: seconds)."""
    running = [(node, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL))
               for node, argv in format_commands(home, cluster, jars, extra)]
    failures = []
    for node, proc in running:
        out, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            failures.append(f"node {node.node_id}: {out.decode(errors='replace')[-800:]}")
    if failures:
        raise BrokerSetupError("formatting Kafka storage failed:\n" + "\n".join(failures))


def broker_argv(home: Path, node: Node, jars: Path, heap_mb: int) -> list[str]:
    """The JVM command of one node; its properties path doubles as the marker that tells our
    process from any other Java process (``stack._alive``)."""
    return [
        java_binary(), f"-Xmx{heap_mb}m", f"-Xms{min(heap_mb, 256)}m", "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={kafka_dir(home) / 'log4j2.properties'}",
        "-cp", f"{jars}/*", BROKER_MAIN, str(node_dir(home, node) / "server.properties"),
    ]


def marker(home: Path, node: Node) -> str:
    return str(node_dir(home, node) / "server.properties")
