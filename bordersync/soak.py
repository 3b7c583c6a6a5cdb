"""``bordersync soak``: simulator traffic on a private stack while workers and consumers are killed.

Two stream workers and one consumer per agency run as child processes; a publisher thread feeds
the simulation through a terminal outbox (accepted = ids the SDK acknowledged) while the main
thread carries out the seeded fault schedule (bordersync/faults.py). Afterwards it reads every
output topic and each agency's read model and judges the history with ``faults.check``. The last
line printed is one JSON object. Every process started here is stopped, also on failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import redis
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from bordersync import codec, stack
from bordersync.border import load_border_config
from bordersync.faults import Fault, Observed, check, converged, missing, plan_faults, schedule_seconds
from bordersync.kafka import consumer_conf
from bordersync.procs import Child, interrupt_on_signals
from bordersync.settings import Settings
from bordersync.soakdiag import diagnose, last_assignment

AGENCIES = ("al-customs", "mk-customs")
# Log lines of a completed group join: Faust's (workers) and consumers/runner.py's.
JOINED = (b"Setting newly assigned partitions", b'"partitions assigned"')
# ... and of one that started (aiokafka's rejoin, the consumer's eager revoke) and is pending.
JOINING = (b"(Re-)joining group", b'"partitions revoked"')
JOIN_TIMEOUT = 90.0
RECHECKS = 3
OUTBOX_BROKER_RESTART = "covered by tests/integration/test_outbox_broker.py"


class Collector:
    """Reads the output topics from the beginning (never commits) and the read models."""

    def __init__(self, settings: Settings, agencies: tuple[str, ...]) -> None:
        from consumers.readmodel import AgencyContext, Keys

        border = load_border_config(settings.border_config)
        self.settings = settings
        self.contexts = {a: AgencyContext.of(border, a) for a in agencies}
        self.keys = {a: Keys.of(settings, a) for a in agencies}
        streams = ["crossings", "inspections", "matched", "alerts",
                   *(f"share.{a}" for a in agencies)]
        self.topics = {settings.topic(s): s for s in streams}
        self.seen = Observed(shares={a: [] for a in agencies})
        self.consumer = Consumer(consumer_conf(settings, f"soak-{uuid.uuid4().hex[:8]}"))
        meta = self.consumer.list_topics(timeout=10).topics
        self.consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING)
                              for t in self.topics for p in meta[t].partitions])
        self.redis = redis.Redis.from_url(str(settings.redis_url), decode_responses=True)
        self.undecodable = 0

    def poll(self, seconds: float) -> None:
        from consumers.readmodel import Write, plan

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for msg in self.consumer.consume(2000, 0.1):
                if msg.error():
                    continue
                stream = self.topics[str(msg.topic())]
                family = "share" if stream.startswith("share.") else stream
                value = codec.decode(family, msg.value())
                if isinstance(value, codec.DecodeError):
                    self.undecodable += 1
                    continue
                if family != "share":
                    getattr(self.seen, stream).append(value)
                    continue
                agency = stream.removeprefix("share.")
                write = plan(value, msg.key(), self.contexts[agency], self.keys[agency], 0.0, 1)
                if isinstance(write, Write):
                    self.seen.shares[agency].append((write.stream, write.idem))
        for agency, keys in self.keys.items():
            counts: Any = self.redis.hgetall(keys.stats())
            self.seen.readmodel[agency] = {k: int(v) for k, v in counts.items()}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.consumer.close()
        self.redis.close()


class Publisher(threading.Thread):
    """Feeds the events through one terminal outbox at an even pace; records acknowledged ids."""

    def __init__(self, settings: Settings, events: list[dict[str, Any]], seconds: float) -> None:
        super().__init__(name="soak-publisher", daemon=True)
        self.settings, self.events, self.seconds = settings, events, max(seconds, 1.0)
        self.accepted: list[str] = []
        self.error: BaseException | None = None
        self.queued = -1

    def run(self) -> None:
        from producers.sdk import Terminal

        try:
            with Terminal(self.settings, "soak") as terminal:
                chunks = max(1, int(self.seconds / 0.25))
                size = -(-len(self.events) // chunks)
                started = time.monotonic()
                for n, at in enumerate(range(0, len(self.events), size)):
                    pause = started + n * self.seconds / chunks - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    self.accepted += terminal.submit_many(self.events[at:at + size])
                self.queued = terminal.close(timeout=60).remaining
        except BaseException as exc:  # reported by the main thread
            self.error = exc


class Fleet:
    """The two workers and the agency consumers, restartable by name."""

    def __init__(self, settings: Settings, logs: Path, agencies: tuple[str, ...]) -> None:
        self.settings, self.logs = settings, logs
        self.args = {"worker-0": ["streams", "worker"], "worker-1": ["streams", "worker"],
                     **{f"consumer-{a}": ["consume", "--agency", a] for a in agencies}}
        self.children: dict[str, Child] = {}
        self.offsets: dict[str, int] = {}
        self.killed: dict[str, float] = {}  # group -> when a member of it was last killed

    def start_all(self) -> None:
        """Inside the caller's ``try``: an interrupt between two starts still stops the first."""
        for name in self.args:
            self.start(name)

    def start(self, name: str) -> None:
        log = self.logs / f"{name}.log"
        self.offsets[name] = log.stat().st_size if log.exists() else 0
        # INFO so the consumer logs its assignments (Faust logs its own at INFO already).
        self.children[name] = Child(name, self.args[name], self.settings, log,
                                    BORDERSYNC_LOG_LEVEL="INFO")

    def _log(self, name: str) -> bytes:
        with self.children[name].log.open("rb") as f:
            f.seek(self.offsets[name])
            return f.read()

    def settled(self, name: str) -> bool:
        """Joined since its last start, and its latest join has completed (none pending)."""
        text = self._log(name)
        return max(text.rfind(j) for j in JOINED) > max(text.rfind(j) for j in JOINING)

    @staticmethod
    def group(name: str) -> str:
        return "workers" if name.startswith("worker-") else name

    def wait_settled(self, target: str, timeout: float) -> None:
        """Until ``target``'s consumer group is stable: no member with a JoinGroup pending.

        Tansu 0.6 keeps a member killed while its JoinGroup is pending (docs/reliability.md), and
        a rebalance is not only the victim's own restart: the other worker rejoins when one
        restarts, and every member rejoins again when a killed member's old session expires
        (``session_timeout_ms`` after the kill; also after a SIGTERM that lands before the worker
        can leave the group). So an ordinary fault waits for that expiry and for every member of
        the group to hold its assignment; only rebalance faults hit pending joins.
        """
        group = self.group(target)
        members = [n for n in self.children if self.group(n) == group]
        expiry = self.settings.session_timeout_ms / 1000 + 2.0
        deadline = time.monotonic() + timeout
        while True:
            calm = time.monotonic() - self.killed.get(group, -expiry) >= expiry
            if calm and all(self.settled(n) for n in members):
                return
            if time.monotonic() > deadline:
                late = [n for n in members if not self.settled(n)]
                raise RuntimeError(f"group of {target} not settled after {timeout:.0f}s: {late}")
            self.check_alive()
            time.sleep(0.2)

    def kill(self, name: str, sig: str) -> None:
        child = self.children[name]
        self.killed[self.group(name)] = time.monotonic()
        if sig == "SIGTERM":
            child.stop(grace=15.0)
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.popen.pid, signal.SIGKILL)
        child.stop(grace=5.0)

    def check_alive(self) -> None:
        for name, child in self.children.items():
            if not child.alive():
                raise RuntimeError(f"{name} exited by itself (code {child.popen.returncode}); "
                                   f"see {child.log}")

    def stop(self) -> None:
        for child in reversed(self.children.values()):
            child.stop()


def run_faults(fleet: Fleet, faults: list[Fault], say: Callable[[str], None]) -> int:
    done = 0
    for n, fault in enumerate(faults, 1):
        time.sleep(fault.gap)
        fleet.check_alive()
        if not fault.rebalance:
            # Tansu 0.6 keeps a member killed in the middle of its join forever (docs/
            # reliability.md), so an ordinary fault waits until the victim's group is stable.
            fleet.wait_settled(fault.target, JOIN_TIMEOUT)
        fleet.kill(fault.target, fault.signal)
        done += 1
        say(f"  fault {n}/{len(faults)}: {fault.signal} {fault.target}"
            f"{' during rebalance' if fault.rebalance else ''}, restart in {fault.down}s")
        time.sleep(fault.down)
        fleet.start(fault.target)
    return done


def settle_outputs(collector: Collector, truth: dict[str, Any], settle: float) -> bool:
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        collector.poll(2.0)
        if converged(truth, collector.seen):
            collector.poll(3.0)  # a late re-sent copy would show up here
            return True
    return False


def diagnose_stall(settings: Settings, truth: dict[str, Any], accepted: list[str],
                   collector: Collector, fleet: Fleet, agencies: tuple[str, ...],
                   say: Callable[[str], None]) -> dict[str, int] | None:
    """Where the missing events sit (bordersync/soakdiag.py); never fails the run by itself."""
    from consumers.runner import group_id

    groups = {f"{settings.topic_prefix}streams": ["raw"],
              **{group_id(settings, a): [f"share.{a}"] for a in agencies}}
    say(f"  logs: {settings.home / 'logs'}")
    for name, child in fleet.children.items():
        text = child.log.read_bytes().decode(errors="replace")
        say(f"    {name} ({'alive' if child.alive() else 'dead'}): last assigned "
            f"{last_assignment(text, settings.topic('raw'))}")
    try:
        return diagnose(settings, missing(truth, accepted, collector.seen), groups, say)
    except Exception as exc:  # diagnostics must not mask the check itself
        say(f"  diagnostics failed: {type(exc).__name__}: {exc}")
        return None


def private_settings(base: Settings, home: Path) -> Settings:
    return base.model_copy(update={
        "home": home, "dev_broker_port": stack.free_port(), "dev_redis_port": stack.free_port(),
        "bootstrap": None, "redis_url": None,
        # Short so UNMATCHED alerts are due within the run; the truth is built with the same.
        "grace_seconds": 10, "sweep_interval_seconds": 1.0,
    })


def soak(settings: Settings, *, seed: int, vehicles: int, faults: int, settle: float,
         out: TextIO, agencies: tuple[str, ...] = AGENCIES,
         rebalance_share: float = 0.3) -> dict[str, Any]:
    """Run traffic + faults on an already running stack (``settings``: own topics); judge it."""
    from producers.simulate import simulate

    say: Callable[[str], None] = lambda line: print(line, file=out, flush=True)  # noqa: E731
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(2)
    sim = simulate(seed=seed, vehicles=vehicles, start=start, settings=settings)
    schedule = plan_faults(seed, faults, agencies, rebalance_share=rebalance_share)
    span = schedule_seconds(schedule)
    say(f"soak: {len(sim.events)} events of {vehicles} vehicles, {faults} faults over ~{span:.0f}s"
        f" (seed {seed}, engine {settings.stream_engine})")
    began = time.monotonic()
    logs = settings.home / "logs"
    fleet = Fleet(settings, logs, agencies)
    collector: Collector | None = None
    try:
        fleet.start_all()
        publisher = Publisher(settings, sim.events, span)
        publisher.start()
        done = run_faults(fleet, schedule, say)
        publisher.join(timeout=300)
        if publisher.error is not None or publisher.is_alive():
            raise RuntimeError(f"publisher failed: {publisher.error or 'still running'}")
        for name in fleet.children:
            fleet.wait_settled(name, JOIN_TIMEOUT)
        say(f"  traffic done: {len(publisher.accepted)} accepted, {publisher.queued} queued; "
            "waiting for the outputs to settle")
        collector = Collector(settings, agencies)
        settled = settle_outputs(collector, sim.truth, settle)
        stalled, rechecks = not settled, 0
        while not settled:
            summary = diagnose_stall(settings, sim.truth, publisher.accepted, collector, fleet,
                                     agencies, say)
            # Records still on the raw topic above the group's commit are delayed, not lost (a
            # record Faust's fetch skipped is read again after a restart, docs/reliability.md):
            # restart every process, at most RECHECKS times. Records below the commit or not on
            # the raw topic cannot come back: judge now.
            if rechecks == RECHECKS or summary is None or summary["skipped"] \
                    or summary["not_in_raw"]:
                break
            rechecks += 1
            say(f"  outputs did not settle; restarting every worker and consumer ({rechecks})")
            # All down first, then all up: stopping one while another joins is a rebalance kill.
            for name in list(fleet.children):
                fleet.kill(name, "SIGTERM")
            for name in list(fleet.children):
                fleet.start(name)
            for name in fleet.children:
                fleet.wait_settled(name, JOIN_TIMEOUT)
            settled = settle_outputs(collector, sim.truth, settle)
        report = check(sim.truth, publisher.accepted, collector.seen)
        report["stalled"], report["rechecks"] = stalled, rechecks
        report.update({"faults": done, "events": len(sim.events), "seed": seed,
                       "engine": settings.stream_engine,
                       "rebalance_faults": sum(f.rebalance for f in schedule),
                       "sigkill": sum(f.signal == "SIGKILL" for f in schedule),
                       "undecodable": collector.undecodable,
                       "outbox_broker_restart": OUTBOX_BROKER_RESTART,
                       "seconds": round(time.monotonic() - began, 1)})
        return report
    finally:
        if collector is not None:
            collector.close()
        fleet.stop()


def run_soak(base: Settings, *, seed: int, vehicles: int, faults: int, settle: float,
             out: TextIO) -> int:
    """The ``bordersync soak`` command: its own stack, always stopped; last line is JSON."""
    interrupt_on_signals()
    home = (base.home / "soak").resolve()
    shutil.rmtree(home, ignore_errors=True)
    private = private_settings(base, home)
    report: dict[str, Any] = {"faults": 0, "accepted": 0, "lost": None, "duplicated": None}
    try:
        settings = stack.up_private(private, out)
        report = soak(settings, seed=seed, vehicles=vehicles, faults=faults, settle=settle,
                      out=out)
    except (Exception, KeyboardInterrupt) as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        stack.down(private)
    examples = report.pop("examples", None)
    if examples:
        print(f"  examples: {json.dumps(examples)}", file=out)
    print(json.dumps(report), file=out, flush=True)
    return 0 if report.get("ok") else 1
