"""CLI commands of the stream processors."""

from __future__ import annotations

import argparse

from bordersync.cliapi import AddCommand
from bordersync.output import add_output
from bordersync.settings import Settings


def cmd_streams(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker import run_worker

    return run_worker(settings)


def cmd_dlq(args: argparse.Namespace, settings: Settings) -> int:
    import json
    import sys

    from bordersync.events import InvalidEvent, parse_time
    from streams.replay import Scope, replay

    try:
        since = parse_time(args.since, "--since") if args.since else None
    except InvalidEvent as exc:
        print(f"bordersync: {exc}", file=sys.stderr)
        return 2
    scope = Scope(frozenset(args.stage or ()), since, args.limit)
    summary = replay(settings, dry_run=args.dry_run, idle_timeout=args.idle_timeout, scope=scope)
    if args.json or args.output == "json":
        print(json.dumps(summary.as_json(args.dry_run)))
    else:
        for line in summary.lines(args.dry_run):
            print(line)
    # Non-zero when a dead letter in scope still fails or was not delivered (not committed past).
    return 0 if summary.ok else 1


def register(add: AddCommand) -> None:
    p = add("streams", cmd_streams, "stream processors")
    p.add_argument("action", choices=["worker"])
    p = add("dlq", cmd_dlq, "dead-letter queue: replay records after a fix")
    p.add_argument("action", choices=["replay"])
    p.add_argument("--dry-run", action="store_true", help="check and count, publish nothing")
    p.add_argument("--idle-timeout", type=float, default=2.0,
                   help="stop after this many seconds without a new dead letter")
    p.add_argument("--json", action="store_true", help="one JSON summary line (= -o json)")
    add_output(p, "the summary in readable lines")
    p.add_argument("--stage", action="append",
                   help="only dead letters of this worker stage (__bordersync.errors.stage, or "
                        "dlq.stage before; repeatable)")
    p.add_argument("--since", help="only dead letters that reached the DLQ at or after this "
                                   "ISO 8601 time (with UTC offset)")
    p.add_argument("--limit", type=int, help="replay at most this many")
