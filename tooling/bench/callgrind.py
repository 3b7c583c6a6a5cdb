"""Instructions per event of the pure processor under callgrind, and its rate, as one JSON line.

    python -m tooling.bench.callgrind > /tmp/run.json    # then: python -m tooling.bench.doc add

Wall-clock rates on a shared 2-core machine move with the load; instruction counts barely do, so
issue 19 ("per-event cost down 3×") is judged on them. The workload is ``tooling.bench.processor``'s
(EXIT/ENTRY pairs, 2,000-record batches, fixed clocks). Interpreter start-up, imports, record
generation and the first batch's codec compilation are the same in both runs: the processor's
cost per event is the difference of two runs over the same generated records, processing
``small`` and ``large`` of them, divided by ``large - small``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

VALGRIND = "/usr/bin/valgrind"
GENERATED = 6000  # records generated in every run, processed or not


def _inner(processed: int) -> None:
    from bordersync.border import load_border_config
    from bordersync.settings import Settings
    from streams import gctune
    from streams.processor import Processor
    from tooling.bench.processor import raw_records, run_batches

    records = raw_records(GENERATED)
    settings = Settings()
    border = load_border_config(settings.border_config)
    with gctune.tuned():
        run_batches(Processor(settings, border, 4), records[:processed])


def instructions(processed: int) -> int:
    """Instructions callgrind counts for one run processing ``processed`` records."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [VALGRIND, "--tool=callgrind", f"--callgrind-out-file={Path(tmp) / 'out'}",
             sys.executable, "-m", "tooling.bench.callgrind", "--inner", str(processed)],
            capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no callgrind total in:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def figures(small: int = 2000, large: int = 6000, rate_events: int = 20000) -> dict[str, object]:
    from tooling.bench.processor import figures as processor_figures
    from tooling.bench.run import machine

    low, high = instructions(small), instructions(large)
    return {"machine": machine(),
            "processor_instructions_per_event": round((high - low) / (large - small)),
            "callgrind_runs": {str(small): low, str(large): high},
            **processor_figures(rate_events)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tooling.bench.callgrind")
    parser.add_argument("--inner", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=GENERATED)
    args = parser.parse_args(argv)
    if args.inner is not None:
        _inner(args.inner)
        return 0
    if not 0 < args.small < args.large <= GENERATED:
        parser.error(f"need 0 < --small < --large <= {GENERATED}")
    print(json.dumps(figures(args.small, args.large)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
