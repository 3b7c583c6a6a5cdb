"""``bordersync soak``: simulator traffic on a private 3-node cluster while everything a border
post can break is broken, judged against the simulator's truth.

Faults (tooling/faults.py, seeded): stream workers killed (SIGKILL/SIGTERM, also while their
group rebalances), agency consumers killed, the publishing terminal process killed, one Kafka
node at a time killed and restarted, Redis restarted (data kept) or wiped (the read models must
notice and rebuild), a worker paused past its session timeout and resumed. Traffic is signed
(a key per administration and the pipeline's), every agency of bordersync/data/border.json has
its consumer, and the run is judged on the output topics (``faults.check``), on every share
topic and on every Redis read model against the truth filtered by the agency's agreement
(tooling/soak/truth.py). A stall, a process that exits by itself or a recheck is a failure,
never "ok after a retry". The last lines printed are one JSON object per engine.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import redis
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from bordersync.border import BorderConfig, load_border_config
from bordersync.kafka import consumer_conf
from bordersync.settings import Settings
from bordersync.wire import codec
from tooling import stack
from tooling.faults import KINDS, Fault, Observed, check, converged, missing, plan_faults, schedule_seconds
from tooling.procs import interrupt_on_signals
from tooling.soak import truth as soaktruth
from tooling.soak.diag import diagnose
from tooling.soak.fleet import Fleet, publisher_argv
from tooling.soak.pub import acked, chunk_bounds

ENGINES = ("faust", "batch")
# Engines that claim exactly-once (outputs, state and offsets in one transaction): for them a
# re-sent copy on an output topic is a failure too. streams/runtime.py: both, by default
# (``stream_guarantee``).
SUMMARY_KEYS = ("engine", "faults", "fault_kinds", "accepted", "lost", "duplicated",
                "redelivered", "readmodel_wrong", "stalled")
READMODEL_EVERY_S = 5.0


def all_agencies(border: BorderConfig) -> tuple[str, ...]:
    return tuple(a.name for a in border.agencies)


class Collector:
    """Reads every output topic from the beginning (never commits) and the Redis read models."""

    def __init__(self, settings: Settings, agencies: tuple[str, ...]) -> None:
        from consumers.readmodel import Keys

        self.settings = settings
        self.border = load_border_config(settings.border_config)
        self.agreements = soaktruth.agreements(self.border, agencies)
        self.keys = {a: Keys.of(settings, a) for a in agencies}
        streams = ["crossings", "inspections", "matched", "alerts",
                   *(f"share.{a}" for a in agencies)]
        self.topics = {settings.topic(s): s for s in streams}
        self.seen = Observed(shares={a: [] for a in agencies})
        self.share_holdings = {a: soaktruth.Holding() for a in agencies}
        self.readmodels: dict[str, soaktruth.Holding] = {}
        self.consumer = Consumer(consumer_conf(settings, f"soak-{uuid.uuid4().hex[:8]}"))
        meta = self.consumer.list_topics(timeout=10).topics
        self.consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING)
                              for t in self.topics for p in meta[t].partitions])
        self.redis = redis.Redis.from_url(str(settings.redis_url), decode_responses=True)
        self.undecodable = 0
        self._models_at = 0.0

    def poll(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for msg in self.consumer.consume(2000, 0.1):
                if not msg.error():
                    self._take(self.topics[str(msg.topic())], msg.value(), msg.key())
        if time.monotonic() - self._models_at >= READMODEL_EVERY_S:
            self.read_models()

    def _take(self, stream: str, value: bytes | None, key: bytes | None) -> None:
        from consumers.readmodel import AgencyContext, Write, plan

        family = "share" if stream.startswith("share.") else stream
        decoded = codec.decode(family, value)
        if isinstance(decoded, codec.DecodeError):
            self.undecodable += 1
            return
        if family != "share":
            getattr(self.seen, stream).append(decoded)
            return
        agency = stream.removeprefix("share.")
        inner = decoded.get("record") or {}
        _, fields = self.agreements[agency]
        self.share_holdings[agency].add(str(decoded.get("stream")), inner,
                                        fields.get(str(decoded.get("stream"))))
        ctx = AgencyContext.of(self.border, agency)
        write = plan(decoded, key, ctx, self.keys[agency], 0.0, 1)
        if isinstance(write, Write):
            self.seen.shares[agency].append((write.stream, write.idem))

    def read_models(self) -> None:
        """Every agency's Redis read model as a Holding, and its applied-record counters."""
        self._models_at = time.monotonic()
        try:
            for agency, keys in self.keys.items():
                holding = soaktruth.Holding()
                _, fields = self.agreements[agency]
                for stream in soaktruth.STREAMS:
                    for name in self.redis.scan_iter(f"{keys.prefix}v:*:{stream}", count=1000):
                        values: Any = self.redis.hvals(name)
                        for raw in values:
                            record = json.loads(raw).get("record", {})
                            holding.add(stream, record, fields.get(stream))
                self.readmodels[agency] = holding
                counts: Any = self.redis.hgetall(keys.stats())
                self.seen.readmodel[agency] = {k: int(v) for k, v in counts.items()}
        except redis.RedisError:
            self._models_at = 0.0  # Redis is being restarted by a fault: read again next time

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.consumer.close()
        self.redis.close()


def run_faults(fleet: Fleet, faults: list[Fault], say: Callable[[str], None]) -> int:
    done = 0
    for n, fault in enumerate(faults, 1):
        time.sleep(fault.gap)
        fleet.check_alive()
        say(f"  fault {n}/{len(faults)}: {fault.kind} {fault.signal} {fault.target}"
            f"{' during rebalance' if fault.rebalance else ''}, back in {fault.down}s")
        fleet.inflict(fault)
        done += 1
    return done


def settle_outputs(collector: Collector, truth: dict[str, Any],
                   want: dict[str, dict[str, set[soaktruth.Key]]], settle: float,
                   fleet: Fleet) -> bool:
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        collector.poll(2.0)
        fleet.check_alive()
        if converged(truth, collector.seen) and soaktruth.complete(want, collector.share_holdings):
            collector.read_models()
            if soaktruth.complete(want, collector.readmodels):
                collector.poll(3.0)  # a late re-sent copy would show up here
                collector.read_models()
                return True
    return False


def private_settings(base: Settings, home: Path, engine: str) -> Settings:
    return base.model_copy(update={
        "home": home, "dev_broker_port": stack.free_port(), "dev_redis_port": stack.free_port(),
        "bootstrap": None, "redis_url": None, "dev_brokers": 3, "stream_engine": engine,
        "require_signatures": True,
        # Short so UNMATCHED alerts are due within the run; the truth is built with the same.
        "grace_seconds": 10, "sweep_interval_seconds": 1.0,
    })


def _keys(settings: Settings, events: list[dict[str, Any]]) -> None:
    """A signing key per administration in the traffic, and the pipeline's (share records)."""
    from bordersync.security.keys import KeyStore
    from bordersync.security.signing import PIPELINE_ADMIN

    store = KeyStore.from_settings(settings)
    for admin in sorted({str(e["admin"]) for e in events} | {PIPELINE_ADMIN}):
        store.generate(admin)


def soak(settings: Settings, *, seed: int, vehicles: int, faults: int, settle: float,
         out: TextIO, agencies: tuple[str, ...] | None = None, rebalance_share: float = 0.3
         ) -> dict[str, Any]:
    """Run traffic + faults on an already running 3-node stack (``settings``); judge it."""
    from tooling.simulate import simulate

    say: Callable[[str], None] = lambda line: print(line, file=out, flush=True)  # noqa: E731
    border = load_border_config(settings.border_config)
    agencies = agencies or all_agencies(border)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(2)
    sim = simulate(seed=seed, vehicles=vehicles, start=start, settings=settings)
    _keys(settings, sim.events)
    schedule = plan_faults(seed, faults, agencies, rebalance_share=rebalance_share)
    span = schedule_seconds(schedule) + sum(
        settings.session_timeout_ms / 1000 for f in schedule if f.kind == "pause")
    say(f"soak: {len(sim.events)} signed events of {vehicles} vehicles, {faults} faults over "
        f"~{span:.0f}s, {len(agencies)} agencies (seed {seed}, engine {settings.stream_engine})")
    began = time.monotonic()
    logs = settings.home / "logs"
    events_file, progress = settings.home / "soak-events.jsonl", settings.home / "soak-progress"
    events_file.write_text("".join(json.dumps(e) + "\n" for e in sim.events))
    chunks = max(1, int(span / 0.25))
    fleet = Fleet(settings, logs, agencies,
                  publisher_argv(events_file, progress, chunks, time.time() + 3, span))
    collector: Collector | None = None
    try:
        fleet.start_all()
        done = run_faults(fleet, schedule, say)
        deadline = time.monotonic() + 300
        while not fleet.publisher_done and time.monotonic() < deadline:
            fleet.check_alive()
            time.sleep(0.5)
        if not fleet.publisher_done:
            raise RuntimeError("the publisher did not finish within 300 s after the faults")
        bounds = chunk_bounds(len(sim.events), chunks)
        chunks_done, _ = acked(progress)
        accepted = sorted({str(e["event_id"]) for n in chunks_done
                           for e in sim.events[bounds[n][0]:bounds[n][1]]})
        say(f"  traffic done: {len(accepted)} accepted; waiting for the outputs to settle")
        want = soaktruth.expected(sim.events, sim.truth, set(accepted), border, agencies)
        collector = Collector(settings, agencies)
        settled = settle_outputs(collector, sim.truth, want, settle, fleet)
        if not settled:
            say("  outputs did not settle: stalled")
            with contextlib.suppress(Exception):  # diagnostics must not mask the check itself
                from consumers.runner import group_id

                diagnose(settings, missing(sim.truth, accepted, collector.seen),
                         {f"{settings.topic_prefix}streams": ["raw"],
                          **{group_id(settings, a): [f"share.{a}"] for a in agencies}}, say)
        report = check(sim.truth, accepted, collector.seen)
        shares = soaktruth.compare(want, collector.share_holdings, sim.truth)
        models = soaktruth.compare(want, collector.readmodels, sim.truth)
        report["examples"].update(share_wrong=shares["detail"], readmodel_wrong=models["detail"],
                                  crashes=fleet.crashes[:5])
        kinds = sorted({f.kind for f in schedule[:done]})
        report.update({
            "engine": settings.stream_engine, "faults": done, "fault_kinds": kinds,
            "share_wrong": shares["wrong"], "readmodel_wrong": models["wrong"],
            "stalled": not settled, "crashes": len(fleet.crashes), "rechecks": 0,
            "exactly_once": settings.stream_guarantee == "exactly_once",
            "events": len(sim.events), "seed": seed, "vehicles": vehicles,
            "agencies": len(agencies),
            "rebalance_faults": sum(f.rebalance for f in schedule[:done]),
            "sigkill": sum(f.signal == "SIGKILL" for f in schedule[:done]),
            "undecodable": collector.undecodable,
            "seconds": round(time.monotonic() - began, 1)})
        report["ok"] = bool(report["ok"]) and not any(report[k] for k in (
            "share_wrong", "readmodel_wrong", "stalled", "crashes", "undecodable")) and (
            not report["exactly_once"] or report["redelivered"] == 0)
        return report
    finally:
        if collector is not None:
            collector.close()
        fleet.stop()


def summary_line(report: dict[str, Any]) -> dict[str, Any]:
    """The issue's figures first, then everything else the run measured."""
    return {**{k: report.get(k) for k in SUMMARY_KEYS}, **report}


def run_soak(base: Settings, *, seed: int, vehicles: int, faults: int, settle: float,
             out: TextIO, engines: tuple[str, ...] = ENGINES) -> int:
    """The ``bordersync soak`` command: per engine its own 3-node stack, always stopped; the
    last lines are one JSON object per engine. Exit 0 only when every engine passed."""
    interrupt_on_signals()
    reports: list[dict[str, Any]] = []
    try:
        for engine in engines:
            home = (base.home / "soak" / engine).resolve()
            shutil.rmtree(home, ignore_errors=True)
            private = private_settings(base, home, engine)
            report: dict[str, Any] = {"engine": engine, "faults": 0, "ok": False}
            reports.append(report)
            try:
                settings = stack.up_private(private, out)
                report.update(soak(settings, seed=seed, vehicles=vehicles, faults=faults,
                                   settle=settle, out=out))
            except Exception as exc:
                report["error"] = f"{type(exc).__name__}: {exc}"
            finally:
                stack.down(private, purge=True)
            examples = report.pop("examples", None)
            if examples:
                print(f"  {engine} examples: {json.dumps(examples, default=str)}", file=out)
    except KeyboardInterrupt as exc:
        if reports:
            reports[-1]["error"] = f"interrupted ({exc})"
    for report in reports:
        print(json.dumps(summary_line(report), default=str), file=out, flush=True)
    return 0 if reports and all(r.get("ok") for r in reports) and len(reports) == len(engines) else 1


__all__ = ["KINDS", "run_soak", "soak"]
