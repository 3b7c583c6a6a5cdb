"""The soak's publishing terminal, a process of its own so the soak can kill it like any other.

``python -m tooling.soak.pub EVENTS PROGRESS`` feeds the events (a JSON-lines file, in
arrival order) through one terminal outbox in ``--chunks`` chunks, chunk ``n`` at ``--start`` +
``n * --seconds / --chunks`` (wall clock, so a restarted publisher keeps the schedule and catches
up). After each ``submit_many`` returns — the events are on disk — it appends the chunk number to
PROGRESS and fsyncs it; a restart resumes after the last chunk recorded there. A chunk accepted
but not yet recorded when the process died is submitted again: the same ids and content, which
the streams drop as exact duplicates. So *accepted* = the events of the recorded chunks.

SIGTERM closes the terminal (delivering for up to 5 s; the rest waits in the outbox for the next
start). When every chunk is accepted it keeps delivering until the outbox is empty, then writes
``done`` to PROGRESS and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from bordersync.settings import Settings

TERMINAL = "soak-terminal"


def acked(progress: Path) -> tuple[set[int], bool]:
    """The chunks recorded as accepted, and whether the publisher finished."""
    if not progress.exists():
        return set(), False
    lines = progress.read_text().split()
    return {int(x) for x in lines if x.isdigit()}, "done" in lines


def chunk_bounds(total: int, chunks: int) -> list[tuple[int, int]]:
    size = -(-total // max(1, chunks))
    return [(at, min(total, at + size)) for at in range(0, total, size)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="soakpub")
    parser.add_argument("events", type=Path)
    parser.add_argument("progress", type=Path)
    parser.add_argument("--chunks", type=int, required=True)
    parser.add_argument("--start", type=float, required=True, help="epoch seconds of chunk 0")
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args(argv)
    from producers.sdk import Terminal

    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    events = [json.loads(line) for line in args.events.read_text().splitlines() if line]
    bounds = chunk_bounds(len(events), args.chunks)
    done, _ = acked(args.progress)
    terminal = Terminal(Settings(), TERMINAL, message_timeout_ms=120_000)
    with args.progress.open("a") as progress:
        try:
            for n, (lo, hi) in enumerate(bounds):
                if n in done:
                    continue
                due = args.start + n * args.seconds / len(bounds)
                if stop.wait(max(0.0, due - time.time())):
                    break
                terminal.submit_many(events[lo:hi])
                progress.write(f"{n}\n")
                progress.flush()
                os.fsync(progress.fileno())
            else:
                while terminal.depth() and not stop.wait(0.2):
                    pass
                if not terminal.depth():
                    progress.write("done\n")
                    progress.flush()
                    os.fsync(progress.fileno())
        finally:
            terminal.close(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
