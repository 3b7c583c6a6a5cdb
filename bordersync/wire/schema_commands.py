"""``bordersync schemas ...`` commands (registered by ``bordersync.cli``; heavy imports stay lazy)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bordersync.output import add_output, json_line
from bordersync.settings import Settings


def cmd_schemas(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync.wire.evolution import check
    from bordersync.wire.schemas import SchemaCatalogueError, default_root, load_catalogue

    root = args.dir or default_root()
    try:
        report = check(load_catalogue(root))
    except SchemaCatalogueError as exc:
        print(f"schemas check FAILED: {exc}", file=sys.stderr)
        return 1
    if args.output == "json":  # one object; the FAIL lines still go to stderr
        print(json_line({"ok": report.ok, "dir": str(root), "notes": report.notes,
                         "problems": report.problems}))
    else:
        for note in report.notes:
            print(note)
    if not report.ok:
        for problem in report.problems:
            print(f"FAIL {problem}", file=sys.stderr)
        print(f"schemas check FAILED: {len(report.problems)} problem(s) in {root}", file=sys.stderr)
        return 1
    if args.output != "json":
        print(f"schemas check OK: every version in {root} is readable by every later one "
              "(BACKWARD_TRANSITIVE) and all golden records decode with the current readers")
    return 0


def register(add: Callable[..., Any]) -> None:
    p = add("schemas", cmd_schemas, "Avro schemas: evolution and golden-record checks")
    p.add_argument("action", choices=["check"])
    p.add_argument("--dir", type=Path, default=None,
                   help="schema directory (default: the shipped avro/ schemas)")
    add_output(p, "one line per family and the verdict")
