"""tooling.procs: a child started by a command is always stopped, even when the interrupt lands
while it is being started."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bordersync.settings import Settings
from tooling import procs


@pytest.fixture
def signal_handlers() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in procs.DEFERRED}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_sigterm_during_child_start_left_the_child_running(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signal_handlers: None) -> None:
    """`bench` stopped with SIGTERM left its stream worker running: the signal landed in Popen,
    after the fork, so the child was never recorded and no ``finally`` could stop it."""
    procs.interrupt_on_signals()
    real = subprocess.Popen
    forked: list[subprocess.Popen[bytes]] = []

    def popen_then_signal(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        child = real(*args, **kwargs)
        forked.append(child)
        os.kill(os.getpid(), signal.SIGTERM)  # the interrupt arrives right after the fork
        return child

    monkeypatch.setattr(subprocess, "Popen", popen_then_signal)
    # Another thread with the signals unblocked: the kernel hands them to it, and the Python
    # handler still runs in the main thread at once (CI at 76ac74c; the mask alone deferred
    # nothing then).
    done = threading.Event()
    bystander = threading.Thread(target=done.wait)
    bystander.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            procs.Child("sleeper", [], Settings(home=tmp_path), tmp_path / "sleeper.log",
                        argv=["sleep", "60"])
    finally:
        procs.stop_started()
        done.set()
        bystander.join()
    assert forked and forked[0].poll() is not None, "the child outlived the interrupted command"
    assert not procs._STARTED
