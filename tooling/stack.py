"""The local stack: Apache Kafka (KRaft, one or three nodes) and a Redis server on loopback.

Processes are detached (own session) so ``dev up`` can return; pid files, logs and the chosen
addresses live under ``$BORDERSYNC_HOME`` so every later command finds the same stack. Kafka's
data lives there too (``kafka/``) and survives ``down``/``up``; ``down --purge`` clears it. How a
Kafka node is fetched, configured and formatted is ``tooling.devbroker``'s business.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

from bordersync.endpoints import (
    StackError,
    StackInfo,
    read_state,
    resolve_bootstrap,
    resolve_redis_url,
    state_file,
)
from bordersync.settings import Settings
from tooling import devbroker

__all__ = ["StackError", "StackInfo", "read_state", "resolve_bootstrap", "resolve_redis_url"]

READY_TIMEOUT_S = 30.0
# A JVM start on a busy 2-core machine: seconds usually, a minute at worst.
BROKER_READY_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _alive(pid: int, marker: str) -> bool:
    """True if ``pid`` runs and is ours (guards against pid reuse after a reboot)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    if marker not in cmdline:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def redis_binary() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if not found:
        raise StackError(
            "redis-server not found; install Debian's package: apt-get install redis-server "
            "(make demo / make test do this)"
        )
    return found


def _wait_tcp(port: int, proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + BROKER_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"{what} exited with code {proc.returncode}; log:\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise StackError(f"{what} not listening on 127.0.0.1:{port} after {BROKER_READY_TIMEOUT_S}s")


def _wait_broker_ready(bootstrap: str, brokers: int, conf: dict[str, Any] | None = None) -> None:
    """A metadata round trip, not just an open port: every node answers as a registered broker."""
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + BROKER_READY_TIMEOUT_S
    last: object = None
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0, **(conf or {})})
    while time.monotonic() < deadline:
        try:
            seen = len(admin.list_topics(timeout=2).brokers)
            if seen >= brokers:
                return
            last = f"{seen} of {brokers} brokers registered"
        except Exception as exc:
            last = exc
        time.sleep(0.2)
    raise StackError(f"Kafka at {bootstrap} not ready after {BROKER_READY_TIMEOUT_S}s: {last}")


def _wait_redis_ready(url: str) -> None:
    import redis

    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if redis.Redis.from_url(url, socket_timeout=1).ping():
                return
        except redis.RedisError:
            time.sleep(0.05)
    raise StackError(f"Redis at {url} did not answer PING")


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _check_ports(ports: list[tuple[int, str, str]]) -> None:
    for port, what, fix in ports:
        if port_in_use(port):
            raise StackError(f"port {port} for the {what} is already in use by another process; {fix}")


def _cluster_for(settings: Settings, home: Path) -> devbroker.Cluster:
    """The recorded cluster (data kept across down/up), or a new one of ``dev_brokers`` nodes."""
    count = settings.dev_brokers
    cluster = devbroker.read_cluster(home)
    if cluster is not None and len(cluster.nodes) != count:
        raise StackError(
            f"{home / 'kafka'} holds a {len(cluster.nodes)}-node cluster's data; "
            f"`bordersync dev down --purge` clears it before starting {count} node(s)"
        )
    if cluster is not None and cluster.secure != settings.dev_secure:
        kind = "secured" if cluster.secure else "plain"
        want = "with" if settings.dev_secure else "without"
        raise StackError(f"{home / 'kafka'} holds a {kind} cluster's data; `bordersync dev down "
                         f"--purge` clears it before starting one {want} --secure")
    if cluster is None:
        cluster = devbroker.new_cluster(settings.dev_broker_port, count, free_port,
                                        secure=settings.dev_secure)
    elif cluster.nodes[0].port != settings.dev_broker_port:
        # The first broker's port follows the setting; the data does not depend on it.
        first = cluster.nodes[0]
        cluster = devbroker.Cluster(
            cluster.cluster_id,
            (devbroker.Node(first.node_id, settings.dev_broker_port, first.controller_port),
             *cluster.nodes[1:]),
            secure=cluster.secure,
        )
    return cluster


def start_node(settings: Settings, node_id: int) -> int:
    """Start one recorded node again (fault tests restart a killed broker); returns its pid."""
    home = settings.home.resolve()
    cluster = devbroker.read_cluster(home)
    if cluster is None:
        raise StackError(f"no Kafka cluster recorded under {home}")
    node = next(n for n in cluster.nodes if n.node_id == node_id)
    info = read_state(home)
    proc = _spawn(devbroker.broker_argv(home, node, devbroker.ensure_jars(),
                                        settings.dev_broker_heap_mb),
                  home / "logs" / f"kafka-{node.node_id}.log")
    if info is not None:
        pids = list(info.broker_pids)
        pids[node_id - 1] = proc.pid
        _write_state(home, replace(info, broker_pids=pids))
    _wait_tcp(node.port, proc, home / "logs" / f"kafka-{node.node_id}.log", f"Kafka node {node_id}")
    return proc.pid


def _write_state(home: Path, info: StackInfo) -> None:
    state_file(home).write_text(json.dumps(asdict(info)))


def up(settings: Settings) -> tuple[StackInfo, list[str]]:
    """Start what is not running; idempotent. Returns the stack and what happened."""
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    current = read_state(home)
    if current and _running(home, current):
        if bool(current.secrets) != settings.dev_secure:
            raise StackError(f"a {'secured' if current.secrets else 'plain'} stack is running in "
                             f"{home}; `bordersync dev down` first")
        return current, ["already running"]
    if current:
        # Half-running or stale: stop what is left so we start from a known state.
        down(settings)
        notes.append("removed a stale or half-running stack")

    cluster = _cluster_for(settings, home)
    _check_ports(
        [(settings.dev_broker_port, "broker", "stop it or choose another port with "
          "BORDERSYNC_DEV_BROKER_PORT")]
        + [(p, f"Kafka node {n.node_id}", "stop it, or `bordersync dev down --purge` to choose "
            "new ports") for n in cluster.nodes for p in (n.port, n.controller_port)
           if p != settings.dev_broker_port]
        + [(settings.dev_redis_port, "Redis", "stop it or choose another port with "
            "BORDERSYNC_DEV_REDIS_PORT")]
    )
    try:
        devbroker.java_binary()
        jars = devbroker.ensure_jars()
    except devbroker.BrokerSetupError as exc:
        raise StackError(str(exc)) from exc
    redis_bin = redis_binary()
    logs = home / "logs"
    logs.mkdir(exist_ok=True)
    (home / "redis").mkdir(exist_ok=True)
    devbroker.write_cluster(home, cluster)
    secure: ModuleType | None = None
    tls = None
    if cluster.secure:
        from tooling import securestack

        secure = securestack
        tls = secure.prepare(settings, home, cluster)
    for node in cluster.nodes:
        devbroker.write_node_files(home, cluster, node, secure.node_overrides(
            home, tls, node.port, node.controller_port) if secure else None)
    try:
        devbroker.format_nodes(home, cluster, jars, secure.format_args(home) if secure else None)
    except devbroker.BrokerSetupError as exc:
        raise StackError(str(exc)) from exc
    if any(devbroker.is_formatted(home, n) for n in cluster.nodes):
        notes.append(f"{devbroker.describe()}, {len(cluster.nodes)} node(s), data in {home / 'kafka'}")

    brokers = [
        _spawn(devbroker.broker_argv(home, n, jars, settings.dev_broker_heap_mb),
               logs / f"kafka-{n.node_id}.log")
        for n in cluster.nodes
    ]
    redis_proc = _spawn(
        [redis_bin, "--port", str(settings.dev_redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(home / "redis"), "--daemonize", "no",
         *(secure.redis_args(home) if secure else [])],
        logs / "redis.log",
    )
    info = StackInfo(cluster.bootstrap, f"redis://127.0.0.1:{settings.dev_redis_port}/0",
                     [b.pid for b in brokers], redis_proc.pid, len(cluster.nodes),
                     devbroker.describe(),
                     str(secure.secrets_dir(home)) if secure else None)
    # Record pids before waiting so a failed start can still be cleaned up by `down`.
    _write_state(home, info)
    try:
        for node, proc in zip(cluster.nodes, brokers, strict=True):
            _wait_tcp(node.port, proc, logs / f"kafka-{node.node_id}.log", f"Kafka node {node.node_id}")
        _wait_tcp(settings.dev_redis_port, redis_proc, logs / "redis.log", "redis-server")
        _wait_broker_ready(info.bootstrap, len(cluster.nodes),
                           secure.admin_conf(home) if secure else None)
        _wait_redis_ready(secure.redis_admin_url(home, settings.dev_redis_port) if secure
                          else info.redis_url)
        if secure:
            notes += secure.provision(settings, home)
    except BaseException:
        down(settings)
        raise
    notes.append("started")
    return info, notes


def _running(home: Path, info: StackInfo) -> bool:
    cluster = devbroker.read_cluster(home)
    if cluster is None or len(cluster.nodes) != len(info.broker_pids):
        return False
    return all(_alive(pid, devbroker.marker(home, n))
               for pid, n in zip(info.broker_pids, cluster.nodes, strict=True)) and \
        _alive(info.redis_pid, "redis")


def _stop_all(targets: list[tuple[int, str]], grace: float = 20.0) -> list[int]:
    """SIGTERM every process at once (brokers shut down together, not one waiting for the
    quorum of the others), then SIGKILL what is left after ``grace``."""
    live = [(pid, m) for pid, m in targets if _alive(pid, m)]
    for pid, _ in live:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(p, m) for p, m in live):
        for pid, _ in live:
            _reap(pid)
        time.sleep(0.05)
    for pid, m in live:
        if _alive(pid, m):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    time.sleep(0.1)
    for pid, _ in live:
        _reap(pid)
    return [pid for pid, _ in live]


def _reap(pid: int) -> None:
    # Our own children become zombies until waited for.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def down(settings: Settings, purge: bool = False) -> list[str]:
    """Stop the stack. Kafka's data stays for the next ``up`` unless ``purge``."""
    home = settings.home.resolve()
    info = read_state(home)
    notes = []
    if info is not None:
        cluster = devbroker.read_cluster(home)
        markers = ([devbroker.marker(home, n) for n in cluster.nodes] if cluster
                   else ["kafka.Kafka"] * len(info.broker_pids))
        stopped = _stop_all([*zip(info.broker_pids, markers, strict=False),
                             (info.redis_pid, "redis")])
        notes += [f"stopped broker (pid {pid})" for pid in stopped if pid in info.broker_pids]
        notes += [f"stopped Redis (pid {pid})" for pid in stopped if pid == info.redis_pid]
        for name in ("stack.json", "broker.pid", "redis.pid"):
            (home / name).unlink(missing_ok=True)
    if purge and devbroker.kafka_dir(home).exists():
        shutil.rmtree(devbroker.kafka_dir(home))
        notes.append(f"purged Kafka data ({devbroker.kafka_dir(home)})")
        if (home / "secrets" / "tls").exists():
            # A new secured cluster gets a new CA and new passwords.
            shutil.rmtree(home / "secrets")
            notes.append(f"purged credentials ({home / 'secrets'})")
    if info is None and not notes:
        return ["not running"]
    return notes or ["not running (removed stale state)"]


def status(settings: Settings) -> dict[str, object]:
    home = settings.home.resolve()
    info = read_state(home)
    if info is None:
        return {"running": False}
    cluster = devbroker.read_cluster(home)
    nodes = cluster.nodes if cluster else ()
    brokers = [{"node": n.node_id, "pid": pid, "alive": _alive(pid, devbroker.marker(home, n))}
               for pid, n in zip(info.broker_pids, nodes, strict=False)]
    redis_ok = _alive(info.redis_pid, "redis")
    return {
        "running": bool(brokers) and all(b["alive"] for b in brokers) and redis_ok,
        "bootstrap": info.bootstrap,
        "redis": info.redis_url,
        "broker": info.broker,
        "brokers": brokers,
        "redis_server": {"pid": info.redis_pid, "alive": redis_ok},
    }


@contextlib.contextmanager
def embedded(settings: Settings) -> Iterator[StackInfo]:
    """A private stack for the duration of a block (demo, tests); always stopped afterwards."""
    info, _ = up(settings)
    try:
        yield info
    finally:
        down(settings)


def up_private(private: Settings, out: TextIO) -> Settings:
    """Start ``private``'s own stack (demo, soak), create the topics and say where it runs:
    the settings bound to it. The caller stops it with ``down(private)``."""
    from bordersync.topics import create_topics  # topics -> kafka -> stack: import cycle

    info, _ = up(private)
    settings = private.model_copy(update={"bootstrap": info.bootstrap,
                                          "redis_url": info.redis_url})
    create_topics(settings)
    print(f"  stack: broker {info.bootstrap}, redis {info.redis_url} (logs in {private.home})",
          file=out)
    return settings
