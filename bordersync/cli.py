"""The ``bordersync`` command line. Heavy modules are imported inside each command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bordersync import logs
from bordersync.cliapi import AddCommand, Handler
from bordersync.endpoints import StackError
from bordersync.output import add_output, emit
from bordersync.settings import Settings, load

__all__ = ["AddCommand", "Handler", "build_parser", "main"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bordersync")
    except PackageNotFoundError:
        return "unknown"


def _settings(args: argparse.Namespace) -> Settings:
    return load(
        bootstrap=getattr(args, "bootstrap", None),
        redis_url=getattr(args, "redis", None),
        home=getattr(args, "home", None),
    )


def cmd_crossings(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync.border import load_border_config

    border = load_border_config(settings.border_config)
    rows = [c.model_dump() for c in border.crossings]
    if args.json:  # the contract's JSON array
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        emit(rows, args.output, lambda c: (
            f"{c['id']:24} {c['name']:28} "
            + "  ".join(f"{a}:{p}" for a, p in c["sides"].items())
            + f"  window={c['window_minutes']}min"))
    return 0


def cmd_agencies(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync.border import load_border_config

    border = load_border_config(settings.border_config)
    rows = [{**a.model_dump(), "crossings": sorted(border.agency_crossings(a))}
            for a in border.agencies]
    if args.json:  # the contract's JSON array
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        emit(rows, args.output, lambda a: f"{a['name']:18} admin={a['admin']}  " + ", ".join(
            f"{s}({len(f)})" for s, f in a["streams"].items()))
    return 0


def cmd_topics(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync.topics import create_topics

    emit(({"topic": t, "state": s} for t, s in create_topics(settings)), args.output,
         lambda r: f"{r['state']:8} {r['topic']}")
    return 0


def cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync import tail

    output = "record" if args.json else (args.output or "table")
    for record in tail.records(settings, args.stream, args.from_beginning, args.idle_timeout,
                               envelope=output == "json"):
        print(tail.table_line(record) if output == "table" else tail.dumps(record), flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: otherwise a subcommand's default None overwrites a flag given before it.
    common.add_argument("--bootstrap", default=argparse.SUPPRESS,
                        help="Kafka bootstrap servers (default: embedded stack)")
    common.add_argument("--redis", default=argparse.SUPPRESS,
                        help="Redis URL (default: embedded stack)")
    common.add_argument("--home", type=Path, default=argparse.SUPPRESS,
                        help="state directory (default ./.bordersync)")

    parser = argparse.ArgumentParser(prog="bordersync", parents=[common],
                                     description="Joint border post coordination on Kafka.")
    parser.add_argument("--version", action="version", version=f"bordersync {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_)
        p.set_defaults(handler=handler)
        return p

    p = add("crossings", cmd_crossings, "joint crossings")
    p.add_argument("--json", action="store_true", help="one JSON array (the contract's form)")
    add_output(p)
    p = add("agencies", cmd_agencies, "partner agencies and the fields they may receive")
    p.add_argument("--json", action="store_true", help="one JSON array (the contract's form)")
    add_output(p)
    p = add("topics", cmd_topics, "topic catalogue")
    p.add_argument("action", choices=["create"])
    add_output(p)
    p = add("tail", cmd_tail, "decoded records of a logical stream")
    p.add_argument("stream")
    p.add_argument("--json", action="store_true", help="the decoded record alone, one JSON line each")
    p.add_argument("-o", "--output", choices=["json", "table"], default=None,
                   help="json: a kcat-like envelope (topic, partition, offset, key, timestamp, "
                        "headers, value); table: one readable line per record")
    p.add_argument("--from-beginning", action="store_true")
    p.add_argument("--idle-timeout", type=float, default=None)
    # The operations tooling (dev, demo, soak, bench, simulate): the only import of ``tooling``
    # from the core, here and lazily, so that no vocabulary module depends on it.
    from tooling import commands as tooling_commands

    tooling_commands.register(add)
    # Each role package adds its own commands; imports inside handlers stay lazy.
    from bordersync import lag as lag_commands
    from consumers import commands as consumer_commands
    from producers import commands as producer_commands
    from streams import commands as stream_commands

    for module in (producer_commands, stream_commands, consumer_commands, lag_commands):
        module.register(add)
    from bordersync.security import credentials_commands, keys_commands

    keys_commands.register(add)
    credentials_commands.register(add)
    from bordersync.wire import schema_commands

    schema_commands.register(add)
    from streams.risk import commands as risk_commands

    risk_commands.register(add)
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
        print("bordersync: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
