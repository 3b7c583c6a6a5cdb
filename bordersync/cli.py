"""The ``bordersync`` command line. Heavy modules are imported inside each command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bordersync import logs
from bordersync.settings import Settings, load
from bordersync.stack import StackError

Handler = Callable[[argparse.Namespace, Settings], int]


def _settings(args: argparse.Namespace) -> Settings:
    return load(
        bootstrap=getattr(args, "bootstrap", None),
        redis_url=getattr(args, "redis", None),
        home=getattr(args, "home", None),
    )


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync import stack

    if args.action == "up":
        info, notes = stack.up(settings)
        print(f"bootstrap={info.bootstrap} redis={info.redis_url}")
        print(f"# {'; '.join(notes)} (home {settings.home.resolve()}; memory only: "
              "`dev down` or a broker restart loses every topic)", file=sys.stderr)
        if "started" in notes:
            from bordersync.topics import create_topics

            live = settings.model_copy(update={"bootstrap": info.bootstrap})
            created = create_topics(live)
            print(f"# {len(created)} topics ready", file=sys.stderr)
    elif args.action == "down":
        for note in stack.down(settings):
            print(note)
    else:
        state = stack.status(settings)
        print(json.dumps(state, indent=2))
        return 0 if state.get("running") else 1
    return 0


def cmd_crossings(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync.border import load_border_config

    border = load_border_config(settings.border_config)
    rows = [c.model_dump() for c in border.crossings]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for c in border.crossings:
            sides = "  ".join(f"{a}:{p}" for a, p in c.sides.items())
            print(f"{c.id:24} {c.name:28} {sides}  window={c.window_minutes}min")
    return 0


def cmd_agencies(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync.border import load_border_config

    border = load_border_config(settings.border_config)
    if args.json:
        rows = [
            {**a.model_dump(), "crossings": sorted(border.agency_crossings(a))}
            for a in border.agencies
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for a in border.agencies:
            streams = ", ".join(f"{s}({len(f)})" for s, f in a.streams.items())
            print(f"{a.name:18} admin={a.admin}  {streams}")
    return 0


def cmd_topics(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync.topics import create_topics

    for topic, state in create_topics(settings):
        print(f"{state:8} {topic}")
    return 0


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


def cmd_streams(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker import run_worker

    return run_worker(settings)


def cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync import tail

    for record in tail.records(settings, args.stream, args.from_beginning, args.idle_timeout):
        print(tail.dumps(record) if args.json else record, flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--bootstrap", help="Kafka bootstrap servers (default: embedded stack)")
    common.add_argument("--redis", help="Redis URL (default: embedded stack)")
    common.add_argument("--home", type=Path, help="state directory (default ./.bordersync)")

    parser = argparse.ArgumentParser(prog="bordersync", parents=[common],
                                     description="Joint border post coordination on Kafka.")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_)
        p.set_defaults(handler=handler)
        return p

    p = add("dev", cmd_dev, "embedded broker (Tansu) and Redis on loopback")
    p.add_argument("action", choices=["up", "down", "status"])
    p = add("crossings", cmd_crossings, "joint crossings")
    p.add_argument("--json", action="store_true")
    p = add("agencies", cmd_agencies, "partner agencies and the fields they may receive")
    p.add_argument("--json", action="store_true")
    p = add("topics", cmd_topics, "topic catalogue")
    p.add_argument("action", choices=["create"])
    p = add("publish", cmd_publish, "validate and publish JSON-lines events")
    p.add_argument("--file", required=True, help="JSON-lines file, - for stdin")
    p.add_argument("--terminal", default="cli", help="outbox name (one per terminal)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for delivery")
    p = add("streams", cmd_streams, "stream processors")
    p.add_argument("action", choices=["worker"])
    p = add("tail", cmd_tail, "decoded records of a logical stream")
    p.add_argument("stream")
    p.add_argument("--json", action="store_true")
    p.add_argument("--from-beginning", action="store_true")
    p.add_argument("--idle-timeout", type=float, default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = _settings(args)
    logs.setup(settings.log_level, settings.log_json)
    try:
        code: int = args.handler(args, settings)
    except StackError as exc:
        print(f"bordersync: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
