"""``-o json|table``: one convention for every command that reports (docs/cli.md).

``json`` writes JSON lines — one object per record, so a stream of records can be piped into
``jq`` or read line by line while it is still being written; ``table`` writes one readable line
per record. Errors never go to stdout: they go to stderr with a documented exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TextIO

FORMATS = ("json", "table")


def add_output(parser: argparse.ArgumentParser, what: str = "one line per record",
               default: str = "table") -> None:
    parser.add_argument("-o", "--output", choices=FORMATS, default=None,
                        help=f"json: JSON lines, one object per record; table: {what} "
                             f"(default: {default})")


def _default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_line(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False, default=_default)


def emit(rows: Iterable[Any], output: str | None, table: Callable[[Any], str],
         out: TextIO | None = None) -> None:
    """Write ``rows`` as JSON lines (``-o json``) or through ``table`` (``-o table``, default)."""
    stream = out or sys.stdout
    for row in rows:
        print(json_line(row) if output == "json" else table(row), file=stream, flush=True)


def pairs(row: dict[str, Any]) -> str:
    """``-o table`` for a flat record (a summary, a status): ``name=value`` pairs on one line."""
    return "  ".join(f"{name}={value}" for name, value in row.items())


def summary(output: str | None, record: dict[str, Any], legacy: str, *,
            stdout: bool = True) -> None:
    """A command's closing summary. Without ``-o`` it is written as it always was: ``legacy`` on
    stderr, where scripts read it. With ``-o`` it is the command's report, so it goes to stdout in
    that format, unless stdout already carries the command's data (``simulate --out -``)."""
    if output is None:
        print(legacy, file=sys.stderr, flush=True)
    else:
        emit([record], output, pairs, out=sys.stdout if stdout else sys.stderr)
