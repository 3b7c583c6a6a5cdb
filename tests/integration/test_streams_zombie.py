"""A worker paused past its session timeout and resumed (a zombie) against its successor, with
the deterministic stop hook (``stop:<step>:<n>``, streams/runtime_faults.py): nothing it writes
after it lost its partitions may become visible — not its outputs, not its state changes."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from bordersync.settings import Settings
from tests.conftest import Proc, wait_for
from tests.integration.streams_support import Reader, pair_ids, publish, read_to_end
from tests.integration.test_streams_runtime import OUTPUTS, duplicates
from tests.integration.test_streams_workers import entries, exits

# What a resumed zombie logs when its transaction is refused: by the group coordinator (stale
# generation) or, when the broker had aborted it meanwhile (``transaction.timeout.ms``), by the
# transaction coordinator (its producer is replaced).
REFUSED = ("transaction fenced", "transaction outcome unknown", "batch aborted")


def stopped(pid: int) -> bool:
    """Whether the process is stopped (``T`` in /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2] == "T"


def latest_state(settings: Settings) -> dict[bytes, bytes | None]:
    """The last committed changelog value of every vehicle: what a restore loads."""
    return {m.key(): m.value() for m in
            read_to_end(settings, settings.topic("streams-vehicles-changelog"))}


@pytest.mark.parametrize("engine", ["faust", "batch"])
def test_zombie_worker_resumed_past_its_session_overwrote_its_successors_state(
        make_settings: Callable[..., Settings], spawn: Callable[..., Proc], engine: str) -> None:
    # Issue #15, soak seeds 24 and 25 (a pair never matched, an extra DISCREPANCY): the Faust
    # engine was at-least-once and unfenced. A worker stopped after producing a batch's outputs
    # and resumed after its successor had taken its partitions, re-read the batch and matched
    # every pair, then wrote its stale changelog values over the successor's (a restore loaded
    # them: pending exits that had long been matched) and its outputs beside the successor's.
    settings = make_settings(stream_engine=engine, session_timeout_ms=6000,
                             heartbeat_interval_ms=1000)
    n = 6
    publish(settings, exits(n))
    zombie = spawn(["streams", "worker"], settings.model_copy(
        update={"stream_fault": "stop:after-outputs:1"}))
    try:
        wait_for(lambda: stopped(zombie.popen.pid), 90, "the worker to stop itself")
        spawn(["streams", "worker"], settings)
        publish(settings, entries(n))
        reader = Reader(settings, OUTPUTS)
        try:
            reader.wait(lambda g: len(g["matched"]) >= n, 120, "the successor's pairs")
            state = latest_state(settings)
            os.kill(zombie.popen.pid, signal.SIGCONT)
            wait_for(lambda: any(m in zombie.output() for m in REFUSED)
                     or latest_state(settings) != state, 60,
                     "the zombie's writes to be refused (or to land)")
            reader.poll(3)
            got = reader.got
        finally:
            reader.close()
    finally:
        os.kill(zombie.popen.pid, signal.SIGCONT)
    assert latest_state(settings) == state
    assert duplicates(got) == {}
    assert pair_ids(got) == {(f"x{i}", f"n{i}") for i in range(n)}
