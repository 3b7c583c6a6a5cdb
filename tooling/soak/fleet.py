"""The soak's processes and infrastructure, breakable by name (tooling/faults.py kinds).

Children (``tooling.procs.Child``): two stream workers, one consumer per agency and the
publishing terminal (tooling/soak/pub.py). Infrastructure of the private stack: the three Kafka
nodes (killed one at a time, and only when every partition has its full ISR again, so min ISR 2
always holds) and Redis (a restart that keeps its data, or a wipe the read models must notice).
A process that exits by itself is restarted and *recorded* (``crashes``): the soak counts it as a
failure, never as "ok after a restart".
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import redis

from bordersync.settings import Settings
from tooling import devbroker, stack
from tooling.faults import Fault
from tooling.procs import Child, deferred_signals, unblock_deferred

HEALTH_TIMEOUT_S = 120.0


def _gone(pid: int, timeout: float) -> bool:
    """Reap/await ``pid`` (our child or not) for up to ``timeout`` s; True once it is gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            return True
        if state == "Z":
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)
            return True
        time.sleep(0.05)
    return False


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class Fleet:
    """Workers, consumers and the publisher; the stack's brokers and Redis."""

    def __init__(self, settings: Settings, logs: Path, agencies: tuple[str, ...],
                 publisher_argv: list[str]) -> None:
        self.settings, self.logs = settings, logs
        self.home = settings.home.resolve()
        self.args = {"worker-0": ["streams", "worker"], "worker-1": ["streams", "worker"],
                     **{f"consumer-{a}": ["consume", "--agency", a] for a in agencies},
                     "publisher": []}
        self.publisher_argv = publisher_argv
        self.children: dict[str, Child] = {}
        self.crashes: list[str] = []
        self.publisher_done = False

    def start_all(self) -> None:
        """Inside the caller's ``try``: an interrupt between two starts still stops the first."""
        for name in self.args:
            self.start(name)

    def start(self, name: str) -> None:
        log = self.logs / f"{name}.log"
        argv = self.publisher_argv if name == "publisher" else None
        with deferred_signals():
            self.children[name] = Child(name, self.args[name], self.settings, log, argv=argv,
                                        BORDERSYNC_LOG_LEVEL="INFO")

    # -- faults ------------------------------------------------------------------------------
    def inflict(self, fault: Fault) -> None:
        """Break the target, wait ``fault.down`` s, restore it."""
        if fault.kind == "broker":
            self._broker(int(fault.target.rsplit("-", 1)[1]), fault)
        elif fault.kind in ("redis-restart", "redis-wipe"):
            self._redis(fault)
        elif fault.kind == "pause":
            child = self.children[fault.target]
            _signal_group(child.popen.pid, signal.SIGSTOP)
            time.sleep(self.settings.session_timeout_ms / 1000 + fault.down)
            _signal_group(child.popen.pid, signal.SIGCONT)
        elif fault.target == "publisher" and self.publisher_done:
            pass  # nothing left to publish: the fault would be a no-op restart
        else:
            self.kill(fault.target, fault.signal)
            time.sleep(fault.down)
            self.start(fault.target)

    def kill(self, name: str, sig: str) -> None:
        child = self.children[name]
        if sig == "SIGTERM":
            child.stop(grace=15.0)
            return
        _signal_group(child.popen.pid, signal.SIGKILL)
        child.stop(grace=5.0)

    def _broker(self, node_id: int, fault: Fault) -> None:
        self.wait_cluster_healthy()
        info = stack.read_state(self.home)
        assert info is not None
        pid = info.broker_pids[node_id - 1]
        _signal_group(pid, signal.SIGTERM if fault.signal == "SIGTERM" else signal.SIGKILL)
        if not _gone(pid, 60.0):
            _signal_group(pid, signal.SIGKILL)
            _gone(pid, 10.0)
        time.sleep(fault.down)
        with deferred_signals():  # started and recorded in stack.json as one step
            stack.start_node(self.settings, node_id)

    def wait_cluster_healthy(self, timeout: float = HEALTH_TIMEOUT_S) -> None:
        """Every partition has its full ISR (a restarted node caught up) before the next kill."""
        from confluent_kafka.admin import AdminClient

        from bordersync.kafka import admin_conf

        admin = AdminClient(admin_conf(self.settings))
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                topics = admin.list_topics(timeout=5).topics
                short = [f"{t}[{p}]" for t, m in topics.items() for p, pm in m.partitions.items()
                         if len(pm.isrs) < len(pm.replicas)]
                if not short:
                    return
                last = f"{len(short)} partitions under-replicated, e.g. {short[:3]}"
            except Exception as exc:
                last = str(exc)
            time.sleep(0.5)
        raise RuntimeError(f"cluster not healthy after {timeout:.0f}s: {last}")

    def _redis(self, fault: Fault) -> None:
        info = stack.read_state(self.home)
        assert info is not None
        # As stack.up starts it (Redis rewrites its own process title, so not from /proc).
        port = info.redis_url.rsplit(":", 1)[1].split("/", 1)[0]
        argv = [stack.redis_binary(), "--port", port, "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.home / "redis"), "--daemonize", "no"]
        if fault.kind == "redis-restart":
            client = redis.Redis.from_url(info.redis_url, socket_timeout=10)
            with contextlib.suppress(redis.RedisError):
                client.shutdown(save=True)  # the connection drops as it exits
            client.close()
        else:
            _signal_group(info.redis_pid, signal.SIGKILL)
        if not _gone(info.redis_pid, 30.0):
            _signal_group(info.redis_pid, signal.SIGKILL)
            _gone(info.redis_pid, 10.0)
        if fault.kind == "redis-wipe":
            for dump in (self.home / "redis").glob("*.rdb"):
                dump.unlink()
        time.sleep(fault.down)
        # Started and recorded at once, so `stack.down` stops the new Redis whatever happens next.
        with deferred_signals(), (self.logs / "redis.log").open("ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    preexec_fn=unblock_deferred)
            stack._write_state(self.home, replace(info, redis_pid=proc.pid))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if redis.Redis.from_url(info.redis_url, socket_timeout=1).ping():
                    return
            time.sleep(0.1)
        raise RuntimeError("Redis did not come back after a restart")

    # -- health ------------------------------------------------------------------------------
    def check_alive(self) -> None:
        """Restart any child that exited by itself, and record it (a failure of the run)."""
        for name, child in list(self.children.items()):
            if child.alive():
                continue
            if name == "publisher" and child.popen.returncode == 0:
                self.publisher_done = True
                continue
            self.crashes.append(f"{name} exited by itself (code {child.popen.returncode}); "
                                f"see {child.log}")
            child.stop()
            self.start(name)

    def brokers_alive(self) -> bool:
        info = stack.read_state(self.home)
        cluster = devbroker.read_cluster(self.home)
        return bool(info and cluster) and all(
            stack._alive(pid, devbroker.marker(self.home, n))
            for pid, n in zip(info.broker_pids, cluster.nodes, strict=True))  # type: ignore[union-attr]

    def stop(self, grace: float = 15.0) -> None:
        """All at once (one by one, eleven slow shutdowns add up past any caller's patience)."""
        for child in self.children.values():
            if child.alive():
                _signal_group(child.popen.pid, signal.SIGCONT)  # a paused child cannot exit
                _signal_group(child.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children.values():
            child.stop(grace=max(0.1, deadline - time.monotonic()))


def publisher_argv(events: Path, progress: Path, chunks: int, start: float,
                   seconds: float) -> list[str]:
    return [sys.executable, "-m", "tooling.soak.pub", str(events), str(progress),
            "--chunks", str(chunks), "--start", f"{start:.3f}", "--seconds", f"{seconds:.1f}"]
