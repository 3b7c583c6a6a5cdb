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


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync import stack

    if args.action == "up":
        from bordersync.procs import interrupt_on_signals

        interrupt_on_signals()  # interrupted mid-start: up() stops what it started (issue #15)
        if args.brokers:
            settings = settings.model_copy(update={"dev_brokers": args.brokers})
        if args.secure:
            settings = settings.model_copy(update={"dev_secure": True})
        info, notes = stack.up(settings)
        print(f"bootstrap={info.bootstrap} redis={info.redis_url}"
              + (f" secrets={info.secrets}" if info.secrets else ""))
        print(f"# {'; '.join(notes)} (home {settings.home.resolve()}; topics survive `dev down`, "
              "`dev down --purge` clears them)", file=sys.stderr)
        if "started" in notes:
            from bordersync.topics import create_topics

            live = settings.model_copy(update={"bootstrap": info.bootstrap})
            if info.secrets:
                live = live.model_copy(update={"client_properties": Path(info.secrets)
                                               / "admin.properties"})
            created = create_topics(live)
            print(f"# {len(created)} topics ready", file=sys.stderr)
    elif args.action == "fetch":
        from bordersync import devbroker

        try:
            jars = devbroker.ensure_jars()
        except devbroker.BrokerSetupError as exc:
            raise StackError(str(exc)) from exc
        print(f"{devbroker.describe()}: {jars}")
    elif args.action == "down":
        for note in stack.down(settings, purge=args.purge):
            print(note)
    else:
        state = stack.status(settings)
        if args.output is None:  # the indented document it always printed
            print(json.dumps(state, indent=2))
        else:
            emit([state], args.output, lambda s: "\n".join(f"{k}: {v}" for k, v in s.items()))
        if not state.get("running"):
            print("bordersync: the local stack is not running (`bordersync dev up`)",
                  file=sys.stderr)
            return 1
    return 0


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


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync.demo import run_demo

    return run_demo(settings, duration=args.duration, rate=args.rate)


def cmd_soak(args: argparse.Namespace, settings: Settings) -> int:
    import sys

    from bordersync.soak import run_soak

    engines = ("faust", "batch") if args.engine == "both" else (args.engine,)
    return run_soak(settings, seed=args.seed, vehicles=args.vehicles, faults=args.faults,
                    settle=args.settle, out=sys.stdout, engines=engines)


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    from bordersync.bench import run_bench

    return run_bench(settings, quick=args.quick, as_json=args.json, events=args.events,
                     backlog=args.backlog)


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

    p = add("dev", cmd_dev, "local Apache Kafka (KRaft) and Redis on loopback")
    p.add_argument("action", choices=["up", "down", "status", "fetch"])
    p.add_argument("--brokers", type=int, choices=[1, 3], default=None,
                   help="up: Kafka nodes (3 = replication factor 3, min.insync.replicas 2)")
    p.add_argument("--purge", action="store_true", help="down: also delete Kafka's data")
    p.add_argument("--secure", action="store_true",
                   help="up: TLS + SASL/SCRAM listeners only, a principal per role and agency, "
                        "ACLs; prints secrets=DIR of per-principal client properties files")
    add_output(p, "status: key: value lines", default="the indented JSON document")
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
    p = add("demo", cmd_demo, "the whole pipeline on simulated traffic (what `make demo` runs)")
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--rate", type=float, default=40.0, help="simulated events per second")
    p = add("soak", cmd_soak, "fault injection on a private stack; last line is one JSON object")
    p.add_argument("--seed", type=int, default=9)
    p.add_argument("--vehicles", type=int, default=4000)
    p.add_argument("--faults", type=int, default=50)
    p.add_argument("--settle", type=float, default=300.0, help="max seconds to wait for outputs")
    p.add_argument("--engine", choices=["faust", "batch", "both"], default="both",
                   help="stream engine(s), one after the other on a fresh 3-node stack each")
    p = add("bench", cmd_bench, "benchmark suite; --json prints one JSON object last")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quick", action="store_true", help="small sizes (the smoke run in make test)")
    p.add_argument("--events", type=int, help="events for the throughput runs (default 200000)")
    p.add_argument("--backlog", type=int, help="queued events for the catch-up run (default 1M)")
    # Each role package adds its own commands; imports inside handlers stay lazy.
    from bordersync import lag as lag_commands
    from consumers import commands as consumer_commands
    from producers import commands as producer_commands
    from streams import commands as stream_commands

    for module in (producer_commands, stream_commands, consumer_commands, lag_commands):
        module.register(add)
    from bordersync import credentials_commands, keys_commands

    keys_commands.register(add)
    credentials_commands.register(add)
    from bordersync import schema_commands

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
