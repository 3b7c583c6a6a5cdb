"""``bordersync demo``: the whole pipeline on simulated traffic, with a live summary.

It runs a private embedded stack (own home, free ports), so it never disturbs a ``dev up`` stack,
and it stops every process it started — on success, on failure and on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TextIO

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from bordersync.border import load_border_config
from bordersync.catalogue import all_topics
from bordersync.kafka import consumer_conf
from bordersync.settings import Settings
from bordersync.wire import codec
from bordersync.wire.codec import DecodeError
from tooling import stack
from tooling.demorisk import RiskTally, enable
from tooling.procs import Child, cli_path, deferred_signals, interrupt_on_signals

DEMO_AGENCIES = ("al-customs", "mk-customs", "al-border-police")
DEMO_CROSSING = "kjafasan-qafe-thane"  # al-customs (looked up at the end) sees this crossing


@dataclass
class Tally:
    per_stream: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    shared: Counter[str] = field(default_factory=Counter)
    risk: RiskTally = field(default_factory=RiskTally)
    sample_plate: str | None = None

    def line(self) -> str:
        s = self.per_stream
        alerts = " ".join(f"{k}={v}" for k, v in sorted(self.alerts.items())) or "-"
        return (f"raw={s['raw']} crossings={s['crossings']} inspections={s['inspections']} "
                f"matched={s['matched']} dlq={s['dlq']} | alerts: {alerts} | "
                f"shared: {sum(self.shared.values())} records to {len(self.shared)} agencies | "
                f"{self.risk.line()}")


class Monitor:
    """Counts records on every output topic (reads from the beginning, never commits)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        border = load_border_config(settings.border_config)
        self.streams = {settings.topic(t.stream): t.stream for t in all_topics(border)}
        self.tally = Tally()
        self.consumer = Consumer(consumer_conf(settings, f"demo-monitor-{uuid.uuid4().hex[:6]}"))
        meta = self.consumer.list_topics(timeout=10).topics
        self.consumer.assign([
            TopicPartition(topic, p, OFFSET_BEGINNING)
            for topic in self.streams if topic in meta for p in meta[topic].partitions
        ])

    def poll(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for msg in self.consumer.consume(1000, timeout=0.1):
                if msg.error():
                    continue
                self._count(self.streams[str(msg.topic())], msg.value())

    def _count(self, stream: str, value: bytes | None) -> None:
        if stream.startswith("share."):
            self.tally.shared[stream.removeprefix("share.")] += 1
            return
        self.tally.per_stream[stream] += 1
        if stream == "risk":
            self.tally.risk.count(value)
        elif stream == "alerts":
            decoded = codec.decode("alerts", value)
            if not isinstance(decoded, DecodeError):
                self.tally.alerts[str(decoded.get("type"))] += 1
        elif stream == "matched" and self.tally.sample_plate is None:
            decoded = codec.decode("matched", value)
            # A truck the looked-up agency is entitled to see, with a recognised inspection.
            if (not isinstance(decoded, DecodeError) and decoded.get("inspections")
                    and decoded.get("crossing") == DEMO_CROSSING):
                self.tally.sample_plate = str(decoded.get("plate"))

    def close(self) -> None:
        self.consumer.close()


def run_demo(base: Settings, duration: float, rate: float, out: TextIO = sys.stdout) -> int:
    # SIGINT too, not only Python's default for it: a demo started in the background of a
    # non-interactive shell inherits SIGINT *ignored*, and ran to its end when interrupted.
    interrupt_on_signals()
    home = (base.home / "demo").resolve()
    shutil.rmtree(home, ignore_errors=True)
    private = base.model_copy(update={
        "home": home, "dev_broker_port": stack.free_port(), "dev_redis_port": stack.free_port(),
        "bootstrap": None, "redis_url": None,
    })
    children: list[Child] = []
    monitor: Monitor | None = None
    print(f"bordersync demo: {duration:.0f}s of simulated traffic at ~{rate:.0f} events/s", file=out)
    try:
        # Joint risk management on: both sides' example profiles, signed by both (docs/risk.md).
        settings = enable(stack.up_private(private, out))
        logs = home / "logs"
        # Each child is started and recorded as one step (SIGTERM/SIGINT deferred meanwhile): an
        # interrupt between the two left the feeder running after the demo had stopped.
        with deferred_signals():
            children.append(Child("worker", ["streams", "worker"], settings, logs / "worker.log"))
        for agency in DEMO_AGENCIES:
            with deferred_signals():
                children.append(Child(f"consume-{agency}", ["consume", "--agency", agency],
                                      settings, logs / f"consume-{agency}.log"))
        from tooling.apidemo import start_officer_page  # the officer page, signed in

        with deferred_signals():
            children.append(start_officer_page(settings, logs, DEMO_AGENCIES[0], out))
        with deferred_signals():
            feeder = Child("simulate", ["simulate", "--seed", "7", "--rate", str(rate),
                                        "--duration", str(duration)], settings,
                           logs / "simulate.log")
            children.append(feeder)
        monitor = Monitor(settings)
        started = time.monotonic()
        while time.monotonic() - started < duration + 5 and feeder.alive():
            monitor.poll(2.0)
            elapsed = time.monotonic() - started
            print(f"  [{elapsed:5.0f}s] {monitor.tally.line()}", file=out, flush=True)
            for child in children:
                if child is not feeder and not child.alive():
                    raise RuntimeError(f"{child.name} exited early; see {child.log}")
        # Let the pipeline drain what the feeder published last.
        monitor.poll(5.0)
        _final_summary(settings, monitor.tally, out)
        return 0
    except KeyboardInterrupt:
        print("\n  interrupted; stopping everything", file=out)
        return 130
    finally:
        if monitor is not None:
            with contextlib.suppress(Exception):
                monitor.close()
        for child in reversed(children):
            child.stop()
        stack.down(private, purge=True)
        print("  stopped: worker, consumers, simulator, broker, redis", file=out)


def _final_summary(settings: Settings, tally: Tally, out: TextIO) -> None:
    summary: dict[str, Any] = {
        "events_published": tally.per_stream["raw"],
        "crossings": tally.per_stream["crossings"],
        "inspections": tally.per_stream["inspections"],
        "matched": tally.per_stream["matched"],
        "alerts": dict(tally.alerts),
        "dlq": tally.per_stream["dlq"],
        "shared_per_agency": dict(sorted(tally.shared.items())),
        "risk": tally.risk.summary(),
    }
    print("final summary:", file=out)
    print(json.dumps(summary, indent=2), file=out)
    if tally.sample_plate:
        import subprocess

        from tooling.procs import settings_env

        result = subprocess.run(
            [cli_path(), "lookup", "--plate", tally.sample_plate, "--agency", DEMO_AGENCIES[0]],
            env=settings_env(settings), capture_output=True, text=True, timeout=30,
        )
        print(f"lookup of {tally.sample_plate} as {DEMO_AGENCIES[0]}:", file=out)
        print(result.stdout or result.stderr, file=out)
