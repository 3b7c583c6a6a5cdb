"""CLI commands of the stream processors."""

from __future__ import annotations

import argparse

from bordersync.cli import AddCommand
from bordersync.settings import Settings


def cmd_streams(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker import run_worker

    return run_worker(settings)


def cmd_dlq(args: argparse.Namespace, settings: Settings) -> int:
    from streams.replay import replay

    summary = replay(settings, dry_run=args.dry_run, idle_timeout=args.idle_timeout)
    for line in summary.lines(args.dry_run):
        print(line)
    return 0


def register(add: AddCommand) -> None:
    p = add("streams", cmd_streams, "stream processors")
    p.add_argument("action", choices=["worker"])
    p = add("dlq", cmd_dlq, "dead-letter queue: replay records after a fix")
    p.add_argument("action", choices=["replay"])
    p.add_argument("--dry-run", action="store_true", help="check and count, publish nothing")
    p.add_argument("--idle-timeout", type=float, default=2.0,
                   help="stop after this many seconds without a new dead letter")
