"""Every command that starts processes stops them on SIGTERM and SIGINT (issue #15).

``bordersync bench`` stopped with SIGTERM used to leave its private broker, stream worker and Redis
running: Python's default SIGTERM ends the process without running the ``finally`` blocks that
stop children. Each test starts the command with its own ``BORDERSYNC_HOME``, waits until it has
started processes, signals it, and then looks for any process that still belongs to that home
(command line or environment naming it: the Kafka nodes, Redis, workers, consumers).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import BIN, wait_for


def processes_of(home: Path) -> list[str]:
    """``pid cmdline`` of every live process whose command line or environment names ``home``."""
    needle = str(home.resolve()).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if state != "Z" and (needle in cmdline or needle in environ):
            text = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry.name} {text[:160]}")
    return found


def _ignore_sigint() -> None:
    # What a non-interactive shell does to a command it starts with `&`.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start(args: list[str], home: Path,
           sigint_ignored: bool = False) -> tuple[subprocess.Popen[bytes], Path]:
    log = home.parent / f"{home.name}.log"
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "BORDERSYNC_HOME": str(home),
           "HOME": os.environ.get("HOME", "/root")}
    with log.open("wb") as out:
        proc = subprocess.Popen([str(BIN), *args], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True,
                                preexec_fn=_ignore_sigint if sigint_ignored else None)
    return proc, log


def _interrupt_when(args: list[str], home: Path, ready: Callable[[], bool], what: str,
                    sig: signal.Signals = signal.SIGTERM, timeout: float = 180,
                    sigint_ignored: bool = False) -> int:
    home.mkdir(parents=True)
    proc, log = _start(args, home, sigint_ignored)
    try:
        wait_for(lambda: ready() or proc.poll() is not None, timeout, what)
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        assert processes_of(home), "nothing started yet"
        proc.send_signal(sig)
        code = proc.wait(150)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    deadline = time.monotonic() + 10
    while processes_of(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = processes_of(home)
    assert not left, f"still running after {sig.name}: {left}\n" + log.read_text(
        errors="replace")[-3000:]
    return code


def _log_has(home: Path, pattern: str) -> Callable[[], bool]:
    def check() -> bool:
        return any(p.is_file() and pattern in p.name for p in home.rglob("*.log"))
    return check


def test_bench_stopped_with_sigterm_leaves_nothing_running(tmp_path: Path) -> None:
    home = tmp_path / "bench-home"
    # The worker's log appears once the private stack is up and the worker started.
    code = _interrupt_when(["bench", "--quick", "--json"], home, _log_has(home, "worker-"),
                           "bench started its worker")
    assert code != 0


def test_demo_stopped_with_sigint_leaves_nothing_running(tmp_path: Path) -> None:
    """Started as a background shell starts it, with SIGINT ignored: the demo used to rely on
    Python's default SIGINT handler, which is not installed then, and ran to its end (the
    fresh-clone run of 2026-11-30 17:01, started with `&`: exit 0 after 120 s)."""
    home = tmp_path / "demo-home"
    code = _interrupt_when(["demo", "--duration", "120"], home, _log_has(home, "simulate"),
                           "demo started its feeder", sig=signal.SIGINT, sigint_ignored=True)
    assert code == 130


def test_soak_stopped_with_sigterm_leaves_nothing_running(tmp_path: Path) -> None:
    home = tmp_path / "soak-home"
    code = _interrupt_when(["soak", "--faults", "20", "--vehicles", "100"], home,
                           _log_has(home, "worker-1"), "soak started its fleet")
    assert code != 0


def test_dev_up_interrupted_mid_start_leaves_nothing_running(tmp_path: Path) -> None:
    home = tmp_path / "dev-home"
    # stack.json is written once the nodes are spawned, before they are ready: mid-start.
    code = _interrupt_when(["dev", "up", "--brokers", "3"], home,
                           lambda: (home / "stack.json").exists(), "dev up spawned the nodes")
    assert code != 0
    assert not (home / "stack.json").exists()
