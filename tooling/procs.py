"""Child processes that are always stopped: SIGTERM, a grace period, then SIGKILL of the group.

Every command that starts processes (``dev up``, ``demo``, ``bench``, ``soak``) calls
``interrupt_on_signals`` first: Python's default SIGTERM ends the process at once, without the
``finally`` blocks that stop its children, which left a private broker, workers and Redis running
after ``kill <bench pid>`` (issue #15). As KeyboardInterrupt, SIGTERM unwinds like Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from bordersync.settings import Settings


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def interrupt_on_signals() -> None:
    """SIGTERM and SIGINT raise KeyboardInterrupt in the main thread (so cleanup runs)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)


DEFERRED = {signal.SIGTERM, signal.SIGINT}


def unblock_deferred() -> None:
    # In the child, before exec: the mask is inherited, and a child that cannot get SIGTERM
    # could only be SIGKILLed.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, DEFERRED)


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """SIGTERM/SIGINT wait until the block is done: starting a child *and recording it* is then
    one step, so an interrupt cannot land between them and leave the child unrecorded.

    The mask covers only this thread: a signal the kernel hands to another thread still runs
    its Python handler in the main thread at once (CI at 76ac74c: the unit test, run after
    integration tests had left threads behind, saw the child outlive the interrupt). So the
    handlers are swapped for a recorder too, and what it caught is raised again afterwards."""
    caught: list[int] = []
    handlers: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in DEFERRED:
            handlers[signum] = signal.signal(signum, lambda n, _f: caught.append(n))
    old = signal.pthread_sigmask(signal.SIG_BLOCK, DEFERRED)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        for number in caught:
            signal.raise_signal(number)


def cli_path() -> str:
    return str(Path(sys.executable).parent / "bordersync")


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment under which a child sees exactly ``settings``."""
    env = dict(os.environ)
    for key, value in settings.model_dump(exclude_none=True).items():
        env[f"BORDERSYNC_{key.upper()}"] = str(value)
    env.update(extra)
    return env


class Child:
    def __init__(self, name: str, args: list[str], settings: Settings, log: Path,
                 argv: list[str] | None = None, **env: str) -> None:
        """Runs ``bordersync ARGS`` (or ``argv`` as given) under exactly ``settings``."""
        self.name = name
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._out = log.open("ab")
        # Started and recorded as one step: an interrupt that landed in Popen, after the fork,
        # left a child no one would stop (`bench` stopped with SIGTERM left its stream worker
        # running). ``stop_started`` stops whatever a command's own bookkeeping missed.
        with deferred_signals():
            self.popen = subprocess.Popen(
                argv or [cli_path(), *args], env=settings_env(settings, **env), stdout=self._out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=unblock_deferred,
            )
            _STARTED.append(self)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 10.0) -> int:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        # Children of the child (e.g. Faust threads' helpers) share its process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self._out.close()
        with contextlib.suppress(ValueError):
            _STARTED.remove(self)
        return self.popen.returncode


_STARTED: list[Child] = []


def stop_started() -> None:
    """Stop every child this process started and has not stopped (newest first)."""
    for child in reversed(list(_STARTED)):
        child.stop()
