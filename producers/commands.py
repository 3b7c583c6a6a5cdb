"""CLI commands of the terminal side: publish, outbox (the simulator's `simulate` is in tooling.commands)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bordersync.cliapi import AddCommand
from bordersync.output import add_output, emit, pairs
from bordersync.output import summary as report_summary
from bordersync.settings import Settings

if TYPE_CHECKING:
    from producers.outbox import Outbox


def _open_outbox(settings: Settings, terminal: str, *, append_only_if_busy: bool = False
                 ) -> Outbox | None:
    """The terminal's outbox, or None (reason printed) when another process holds it.

    ``append_only_if_busy``: when a sender (``outbox serve``) holds it, open it for appending
    only — that sender delivers."""
    from producers.outbox import Outbox, OutboxBusy, OutboxFull, outbox_path

    path = outbox_path(settings, terminal)
    try:
        return Outbox(path, settings.outbox_max_rows, terminal=terminal)
    except OutboxBusy as exc:
        if append_only_if_busy:
            print(f"# outbox {terminal} has a running sender (`outbox serve`?); queueing for it",
                  file=sys.stderr)
            return Outbox(path, settings.outbox_max_rows, terminal=terminal, exclusive=False)
        print(f"bordersync: {exc}", file=sys.stderr)
        return None
    except OutboxFull as exc:
        print(f"bordersync: {exc}", file=sys.stderr)
        return None


def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync.progress import Progress
    from bordersync.security.keys import KeyStoreError
    from producers.publish import publish

    outbox = _open_outbox(settings, args.terminal, append_only_if_busy=True)
    if outbox is None:
        return 1
    stream = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
    # A live line on stderr when it is a terminal; silent otherwise (bordersync.progress).
    progress = Progress.for_file("publish", stream)
    try:
        report = publish(progress.wrap(stream), settings, outbox, err=progress.err,
                         deliver_timeout=args.timeout)
    except KeyStoreError as exc:
        print(f"bordersync: cannot sign: {exc}", file=sys.stderr)
        return 1
    finally:
        progress.close()
        outbox.close()
        if stream is not sys.stdin:
            stream.close()
    drain = report.drain
    served = not outbox.exclusive
    summary = {
        "accepted": report.accepted,
        "rejected": len(report.rejected),
        "delivered": drain.delivered if drain else 0,
        "queued": drain.remaining if drain else 0,
    }
    # Without -o the contract's JSON line on stderr; with -o the report on stdout.
    report_summary(args.output, summary, json.dumps(summary))
    if drain and drain.remaining and served:
        print(f"# {drain.remaining} events in the outbox; the running sender delivers them",
              file=sys.stderr)
    elif drain and drain.remaining:
        print(f"# {drain.remaining} accepted events wait in the outbox ({drain.last_error}); "
              f"`bordersync outbox drain --terminal {args.terminal}` or the next publish sends them",
              file=sys.stderr)
    if report.not_accepted_from is not None:
        print(f"bordersync: outbox full — lines from {report.not_accepted_from} on were NOT "
              "accepted; publish them again once the broker is reachable", file=sys.stderr)
        return 1
    return 2 if report.rejected else 0


def cmd_outbox(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync.events import format_time
    from producers.outbox import OutboxBusy
    from producers.sender import deliver_all

    if args.action == "serve":
        from producers.serve import serve

        try:
            return serve(settings, args.terminal, metrics_port=args.metrics_port,
                         grace=args.grace)
        except OutboxBusy as exc:
            print(f"bordersync: {exc}", file=sys.stderr)
            return 1
    output = args.output or "json"  # JSON lines by default, as these always printed
    # Reading and requeueing need no sender lock: they work beside a running `serve`.
    outbox = _open_outbox(settings, args.terminal,
                          append_only_if_busy=args.action in ("status", "poisoned", "requeue"))
    if outbox is None:
        return 1
    try:
        if args.action == "status":
            error = outbox.notes().get("last_error")
            emit([{
                "terminal": args.terminal, "path": str(outbox.path),
                "depth": outbox.refresh_depth(),
                "oldest_age_seconds": round(outbox.oldest_age_seconds(), 3),
                "oldest_attempts": outbox.oldest_attempts(),
                "poisoned": len(outbox.poisoned()),
                "last_error": error[0] if error else None,
                "last_error_at": format_time(datetime.fromtimestamp(error[1], UTC)) if error else None,
            }], output, pairs)
            return 0
        if args.action == "poisoned":
            emit(({"seq": row.seq, "event_id": row.event_id, "bytes": row.size, "error": row.error,
                   "accepted_at": format_time(datetime.fromtimestamp(row.accepted_at, UTC)),
                   "poisoned_at": format_time(datetime.fromtimestamp(row.poisoned_at, UTC))}
                  for row in outbox.poisoned()), output, pairs)
            return 0
        if args.action == "requeue":
            moved = outbox.requeue(args.seq or None)
            emit([{"requeued": moved, "depth": outbox.refresh_depth()}], output, pairs)
            return 0
        stats = deliver_all(outbox, settings, args.terminal, args.timeout)
    finally:
        outbox.close()
    emit([{"delivered": stats.delivered, "queued": stats.remaining,
           "failed_attempts": stats.failed, "poisoned": stats.poisoned,
           "last_error": stats.last_error}], output, pairs)
    return 0 if stats.remaining == 0 else 1


def register(add: AddCommand) -> None:
    p = add("publish", cmd_publish, "validate and publish JSON-lines events")
    p.add_argument("--file", required=True, help="JSON-lines file, - for stdin")
    p.add_argument("--terminal", default="cli", help="outbox name (one per terminal)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for delivery")
    add_output(p, "the summary as name=value pairs",
               default="the summary as one JSON line on stderr")

    p = add("outbox", cmd_outbox, "a terminal's durable outbox: status, drain, serve (long-running "
            "sender), poisoned (rows the broker refused for good), requeue (send those again)")
    p.add_argument("action", choices=["status", "drain", "serve", "poisoned", "requeue"])
    p.add_argument("--terminal", default="cli", help="outbox name")
    p.add_argument("--timeout", type=float, default=60.0, help="drain: seconds to wait for delivery")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="serve: expose /metrics on this port (0 = any free one)")
    p.add_argument("--grace", type=float, default=10.0,
                   help="serve: on SIGTERM/SIGINT keep sending this long, then stop")
    p.add_argument("--seq", type=int, action="append",
                   help="requeue: only this poison row (repeatable; default all)")
    add_output(p, "name=value pairs, one line per record", default="json")
