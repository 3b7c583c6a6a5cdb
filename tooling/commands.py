"""The operations commands: ``dev`` (the local stack), ``demo``, ``soak``, ``bench`` and
``simulate``. ``bordersync.cli`` adds them (it alone imports this package, lazily); the heavy
modules are imported inside each command."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path

from bordersync.cliapi import AddCommand
from bordersync.endpoints import StackError
from bordersync.output import add_output, emit, summary
from bordersync.settings import Settings


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    from tooling import stack

    if args.action == "up":
        from tooling.procs import interrupt_on_signals

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
        from tooling import devbroker

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


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from tooling.demo import run_demo

    return run_demo(settings, duration=args.duration, rate=args.rate)


def cmd_soak(args: argparse.Namespace, settings: Settings) -> int:
    from tooling.soak.run import run_soak

    engines = ("faust", "batch") if args.engine == "both" else (args.engine,)
    return run_soak(settings, seed=args.seed, vehicles=args.vehicles, faults=args.faults,
                    settle=args.settle, out=sys.stdout, engines=engines)


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    from tooling.bench.run import run_bench

    return run_bench(settings, quick=args.quick, as_json=args.json or args.output == "json",
                     events=args.events, backlog=args.backlog)


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    if args.rate is not None:
        from producers.outbox import OutboxBusy
        from tooling.simulate.live import run_live

        if settings.metrics_port:
            from bordersync.metrics import serve

            serve(settings.metrics_port)
        try:
            live = run_live(settings, args.seed, args.rate, args.duration, args.terminal)
        except OutboxBusy as exc:
            print(f"bordersync: {exc}", file=sys.stderr)
            return 1
        summary(args.output, live, json.dumps(live))
        return 0
    from bordersync.events import parse_time
    from tooling.simulate import default_start, simulate

    start = parse_time(args.start, "--start") if args.start else default_start()
    sim = simulate(args.seed, args.vehicles, start, span=timedelta(hours=args.span_hours),
                   invalid=args.invalid, settings=settings)
    if args.out == "-":
        sys.stdout.write("".join(f"{line}\n" for line in sim.lines()))
        sim.write(None, args.truth)
    else:
        sim.write(Path(args.out), args.truth)
    t = sim.truth
    summary(args.output, {"lines": t["lines"], "events": t["events"],
                          "invalid": len(t["invalid_lines"]), "pairs": len(t["pairs"]),
                          "alerts": t["alert_counts"]},
            f"# {t['lines']} lines ({t['events']} events, {len(t['invalid_lines'])} invalid), "
            f"{len(t['pairs'])} expected pairs, alerts {t['alert_counts']}",
            stdout=args.out != "-")  # the events themselves are on stdout
    return 0


def register(add: AddCommand) -> None:
    p = add("dev", cmd_dev, "local Apache Kafka (KRaft) and Redis on loopback")
    p.add_argument("action", choices=["up", "down", "status", "fetch"])
    p.add_argument("--brokers", type=int, choices=[1, 3], default=None,
                   help="up: Kafka nodes (3 = replication factor 3, min.insync.replicas 2)")
    p.add_argument("--purge", action="store_true", help="down: also delete Kafka's data")
    p.add_argument("--secure", action="store_true",
                   help="up: TLS + SASL/SCRAM listeners only, a principal per role and agency, "
                        "ACLs; prints secrets=DIR of per-principal client properties files")
    add_output(p, "status: key: value lines", default="the indented JSON document")
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
    p.add_argument("--json", action="store_true", help="one JSON object as the last line (= -o json)")
    add_output(p, "readable figures")
    p.add_argument("--quick", action="store_true", help="small sizes (the smoke run in make test)")
    p.add_argument("--events", type=int, help="events for the throughput runs (default 200000)")
    p.add_argument("--backlog", type=int, help="queued events for the catch-up run (default 1M)")
    p = add("simulate", cmd_simulate, "deterministic border traffic: a file + truth, or live")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--vehicles", type=int, default=1000)
    p.add_argument("--out", default="-", help="events file (JSON lines), - for stdout")
    p.add_argument("--truth", type=Path, help="ground-truth JSON file")
    p.add_argument("--start", help="ISO time of the first exits (default: 00:00 UTC 2 days ago)")
    p.add_argument("--span-hours", type=float, default=24.0)
    p.add_argument("--invalid", type=int, default=0, help="deliberately invalid lines to mix in")
    p.add_argument("--rate", type=float, help="live mode: publish this many events/s")
    p.add_argument("--duration", type=float, default=60.0, help="live mode: seconds")
    p.add_argument("--terminal", default="simulator", help="live mode: outbox name")
    add_output(p, "the closing summary as name=value pairs (stdout; stderr with --out -)",
               default="a '#' line, live: a JSON line, on stderr")
