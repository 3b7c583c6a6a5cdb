"""CLI commands of the terminal side: publish (and later simulate, outbox)."""

from __future__ import annotations

import argparse
import json
import sys

from bordersync.cli import AddCommand
from bordersync.settings import Settings


def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    from producers.outbox import Outbox
    from producers.publish import publish

    stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
    outbox = Outbox(settings.home / "outbox" / f"{args.terminal}.db")
    try:
        report = publish(stream, settings, outbox, deliver_timeout=args.timeout)
    finally:
        outbox.close()
        if stream is not sys.stdin:
            stream.close()
    drain = report.drain
    summary = {
        "accepted": report.accepted,
        "rejected": len(report.rejected),
        "delivered": drain.delivered if drain else 0,
        "queued": drain.remaining if drain else 0,
    }
    print(json.dumps(summary), file=sys.stderr)
    if drain and drain.remaining:
        print(f"# {drain.remaining} accepted events wait in the outbox ({drain.last_error}); "
              "they are sent by the next publish", file=sys.stderr)
    return 2 if report.rejected else 0


def register(add: AddCommand) -> None:
    p = add("publish", cmd_publish, "validate and publish JSON-lines events")
    p.add_argument("--file", required=True, help="JSON-lines file, - for stdin")
    p.add_argument("--terminal", default="cli", help="outbox name (one per terminal)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for delivery")
