"""Fault injection, the pure half: a deterministic fault schedule and a history checker.

``bordersync soak`` (tooling/soak/run.py) runs simulator traffic on a private stack while it
carries out the schedule, then hands what it read back to :func:`check`. Everything here is pure
so the checker itself is unit-tested (tests/unit/test_faults_checker.py).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

WORKERS = ("worker-0", "worker-1")
SIGNALS = ("SIGKILL", "SIGTERM")
# What a border post breaks. worker: a stream worker killed (``rebalance``: while the group still
# rebalances around the previous worker fault); consumer: an agency consumer killed; publisher:
# the terminal process that publishes; broker: one Kafka node of three; redis-restart: Redis
# shut down (data saved) and started again; redis-wipe: Redis killed and started empty (the read
# models must notice and rebuild); pause: a worker SIGSTOPped past its session timeout, resumed.
KINDS = ("worker", "consumer", "publisher", "broker", "redis-restart", "redis-wipe", "pause")
# Draw weights after the first round (which has every kind once, in a seeded order).
WEIGHTS = {"worker": 4, "consumer": 3, "publisher": 2, "broker": 2, "redis-restart": 1,
           "redis-wipe": 1, "pause": 1}
# Set by the worker per (re)processing, so a re-sent copy may differ in them and nothing else.
VOLATILE = frozenset({"shared_at", "raised_at", "matched_at"})


@dataclass(frozen=True)
class Fault:
    """Break ``target`` ``gap`` s after the previous fault ended; restore it ``down`` s later.

    ``signal``: SIGKILL / SIGTERM for processes and brokers, SIGSTOP for a pause (resumed with
    SIGCONT after the session timeout), SHUTDOWN for a Redis restart that keeps its data.
    ``rebalance``: the kill lands while the group still rebalances after the previous fault's
    worker restart."""

    gap: float
    target: str
    signal: str
    down: float
    rebalance: bool = False
    kind: str = "worker"


def _target(rng: random.Random, kind: str, consumers: Sequence[str], brokers: int) -> str:
    if kind in ("worker", "pause"):
        return rng.choice(WORKERS)
    if kind == "consumer":
        return f"consumer-{rng.choice(list(consumers))}"
    if kind == "broker":
        return f"broker-{rng.randint(1, brokers)}"
    return "publisher" if kind == "publisher" else "redis"


def _signal(rng: random.Random, kind: str) -> str:
    if kind == "pause":
        return "SIGSTOP"
    if kind == "redis-restart":
        return "SHUTDOWN"
    if kind == "redis-wipe":
        return "SIGKILL"
    return rng.choice(SIGNALS)


def plan_faults(seed: int, count: int, consumers: Sequence[str], *,
                gap: tuple[float, float] = (2.0, 6.0), down: tuple[float, float] = (0.5, 3.0),
                rebalance_share: float = 0.3, kinds: Sequence[str] = KINDS,
                brokers: int = 3) -> list[Fault]:
    """``count`` faults drawn from ``random.Random(seed)``: same seed, same schedule.

    The first ``len(kinds)`` faults are every kind once (seeded order), so a short run covers
    them all; later ones are drawn by ``WEIGHTS``. About ``rebalance_share`` of the faults that
    follow a worker fault kill the *other* worker while the group still rebalances."""
    rng = random.Random(seed)
    first = list(kinds)
    rng.shuffle(first)
    pool = [k for k in kinds for _ in range(WEIGHTS.get(k, 1))]
    faults: list[Fault] = []
    for n in range(count):
        pause = round(rng.uniform(*down), 2)
        previous = faults[-1] if faults else None
        if (previous is not None and previous.kind == "worker" and n >= len(first)
                and rng.random() < rebalance_share):
            other = WORKERS[1 - WORKERS.index(previous.target)]
            faults.append(Fault(round(rng.uniform(0.3, 1.5), 2), other, rng.choice(SIGNALS),
                                pause, True, "worker"))
            continue
        kind = first[n] if n < len(first) else rng.choice(pool)
        faults.append(Fault(round(rng.uniform(*gap), 2), _target(rng, kind, consumers, brokers),
                            _signal(rng, kind), pause, False, kind))
    return faults


def schedule_seconds(faults: Iterable[Fault]) -> float:
    return sum(f.gap + f.down for f in faults)


@dataclass
class Observed:
    """What the soak read after the run: every record of the output topics, decoded, plus the
    idempotency keys of each agency's share records and that agency's read-model counts."""

    crossings: list[Mapping[str, Any]] = field(default_factory=list)
    inspections: list[Mapping[str, Any]] = field(default_factory=list)
    matched: list[Mapping[str, Any]] = field(default_factory=list)
    alerts: list[Mapping[str, Any]] = field(default_factory=list)
    # agency -> one (stream, idempotency key) per share record read, copies included
    shares: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # agency -> the read model's "records applied once" per stream
    readmodel: dict[str, dict[str, int]] = field(default_factory=dict)


def _stable(record: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in record.items() if k not in VOLATILE))


def alert_key(alert: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    return str(alert["type"]), tuple(sorted(str(i) for i in alert["event_ids"]))


def _redelivered(seen: Observed) -> Counter[tuple[str, str]]:
    """Times each ``(stream, key)`` was read, for the keys read more than once.

    The streams as an agency tells copies apart: crossings and inspections by ``event_id``,
    matched by pair, alerts by ``alert_id`` (shown with the alert's type, since the id is a hash:
    an UNMATCHED alert re-raised by a sweep reads differently from a batch's re-sent output),
    ``share.<agency>`` by the consumer's idempotency key (``<inner stream>:<id>``)."""
    read: Counter[tuple[str, str]] = Counter()
    read.update(("crossings", str(r["event_id"])) for r in seen.crossings)
    read.update(("inspections", str(r["event_id"])) for r in seen.inspections)
    read.update(("matched", f"{m['exit_event_id']}|{m['entry_event_id']}") for m in seen.matched)
    read.update(("alerts", f"{a.get('type')}:{a['alert_id']}") for a in seen.alerts)
    for agency, keys in seen.shares.items():
        # The consumer's key is already "<stream>:<id>" (consumers.readmodel.plan).
        read.update((f"share.{agency}", k if k.startswith(f"{s}:") else f"{s}:{k}")
                    for s, k in keys)
    return Counter({key: n for key, n in read.items() if n > 1})


def redelivered_examples(copies: Counter[tuple[str, str]], limit: int = 10) -> dict[str, int]:
    """Up to ``limit`` ``"stream:key": times read``, taken in turn from each stream that carried
    copies (most copies first), so a stream with a few copies is not hidden behind one with
    many: the question a failing exactly-once run raises is *which* streams carried them."""
    by_stream: dict[str, list[tuple[str, int]]] = {}
    for (stream, key), n in sorted(copies.items(), key=lambda kv: (-kv[1], kv[0])):
        by_stream.setdefault(stream, []).append((key, n))
    queues = sorted(by_stream.items(), key=lambda kv: (-sum(n - 1 for _, n in kv[1]), kv[0]))
    out: dict[str, int] = {}
    depth = 0
    while len(out) < limit and any(depth < len(q) for _, q in queues):
        for stream, queue in queues:
            if depth < len(queue) and len(out) < limit:
                key, n = queue[depth]
                out[f"{stream}:{key}"] = n
        depth += 1
    return out


def _dropped(truth: Mapping[str, Any]) -> set[str]:
    return {d for p in truth.get("physical_duplicates", []) for d in p["dropped"]}


def missing(truth: Mapping[str, Any], accepted: Iterable[str], seen: Observed) -> set[str]:
    """Accepted ids that should be forwarded and are in neither output topic (yet)."""
    forwarded = {str(r["event_id"]) for r in [*seen.crossings, *seen.inspections]}
    return set(accepted) - _dropped(truth) - forwarded


def check(truth: Mapping[str, Any], accepted: Iterable[str], seen: Observed) -> dict[str, Any]:
    """Judge one history against the simulator's ground truth.

    ``lost``: accepted events that should be forwarded (not dropped physical duplicates) but are
    in neither ``crossings`` nor ``inspections``. ``duplicated``: effects that survive downstream
    dedup by id: a dropped physical duplicate forwarded anyway (state lost), two different
    versions under one id, an event in two different pairs, or a read model that applied more
    records than there are distinct ids. ``redelivered``: extra raw copies with the same id and
    content (at-least-once; harmless by construction), per stream in ``redelivered_by_stream``
    and by example in ``examples["redelivered"]`` (``"stream:key": times read``) — an engine
    that claims exactly-once must have none, and when it has some the report must say where.
    """
    accepted_ids = set(accepted)
    should_forward = accepted_ids - _dropped(truth)
    forwarded = [*seen.crossings, *seen.inspections]
    forwarded_ids = {str(r["event_id"]) for r in forwarded}
    lost = sorted(should_forward - forwarded_ids)

    versions: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for r in forwarded:
        versions.setdefault(str(r["event_id"]), set()).add(_stable(r))
    conflicting_versions = sorted(i for i, v in versions.items() if len(v) > 1)
    unexpected = sorted(forwarded_ids - should_forward)
    pairs = {(str(m["exit_event_id"]), str(m["entry_event_id"])) for m in seen.matched}
    in_pairs = Counter(i for p in pairs for i in p)
    double_paired = sorted(i for i, n in in_pairs.items() if n > 1)

    readmodel_excess: dict[str, int] = {}
    readmodel_missing: dict[str, int] = {}
    copies = _redelivered(seen)
    redelivered_by_stream: dict[str, int] = {}
    for (stream, _), n in sorted(copies.items()):
        redelivered_by_stream[stream] = redelivered_by_stream.get(stream, 0) + n - 1
    for agency, keys in seen.shares.items():
        distinct = Counter(s for s, _ in set(keys))
        applied = seen.readmodel.get(agency, {})
        for stream in set(distinct) | set(applied):
            diff = applied.get(stream, 0) - distinct.get(stream, 0)
            if diff > 0:
                readmodel_excess[f"{agency}/{stream}"] = diff
            elif diff < 0:
                readmodel_missing[f"{agency}/{stream}"] = -diff

    want_pairs = {(p["exit_event_id"], p["entry_event_id"]) for p in truth["pairs"]}
    want_alerts = {alert_key(a) for a in truth["alerts"]}
    got_alerts = {alert_key(a) for a in seen.alerts}
    paired_events = {i for p in want_pairs for i in p}
    # An UNMATCHED alert raised while a crash held back the partner, for an event the truth
    # pairs (the pair still forms, `late`): the sweep-timing artefact docs/producers.md allows.
    artefacts = {a for a in got_alerts - want_alerts
                 if a[0].startswith("UNMATCHED") and set(a[1]) <= paired_events}
    duplicated = (len(unexpected) + len(conflicting_versions) + len(double_paired)
                  + sum(readmodel_excess.values()))
    report: dict[str, Any] = {
        "accepted": len(accepted_ids),
        "should_forward": len(should_forward),
        "forwarded": len(forwarded_ids),
        "lost": len(lost),
        "duplicated": duplicated,
        "redelivered": sum(redelivered_by_stream.values()),
        "redelivered_by_stream": redelivered_by_stream,
        "matched_expected": len(want_pairs),
        "matched_found": len(pairs),
        "matched_missing": len(want_pairs - pairs),
        "matched_extra": len(pairs - want_pairs),
        "alerts_expected": len(want_alerts),
        "alerts_found": len(got_alerts),
        "alerts_missing": len(want_alerts - got_alerts),
        "alerts_extra": len(got_alerts - want_alerts - artefacts),
        "unmatched_artefacts": len(artefacts),
        "readmodel_missing": sum(readmodel_missing.values()),
        "examples": {
            "lost": lost[:5], "unexpected_forwarded": unexpected[:5],
            "conflicting_versions": conflicting_versions[:5], "double_paired": double_paired[:5],
            "readmodel_excess": readmodel_excess, "readmodel_missing": readmodel_missing,
            "matched_missing": sorted(want_pairs - pairs)[:5],
            "alerts_missing": sorted(want_alerts - got_alerts)[:5],
            "redelivered": redelivered_examples(copies),
        },
    }
    report["ok"] = not any(report[k] for k in (
        "lost", "duplicated", "matched_missing", "matched_extra", "alerts_missing",
        "alerts_extra", "readmodel_missing"))
    return report


def converged(truth: Mapping[str, Any], seen: Observed) -> bool:
    """Everything the truth expects is visible and every read model caught up with its topic."""
    forwarded = truth["forwarded"]
    if len({r["event_id"] for r in seen.crossings}) < forwarded["crossings"]:
        return False
    if len({r["event_id"] for r in seen.inspections}) < forwarded["inspections"]:
        return False
    want_pairs = {(p["exit_event_id"], p["entry_event_id"]) for p in truth["pairs"]}
    got_pairs = {(m["exit_event_id"], m["entry_event_id"]) for m in seen.matched}
    if not want_pairs <= got_pairs:
        return False
    if not {alert_key(a) for a in truth["alerts"]} <= {alert_key(a) for a in seen.alerts}:
        return False
    for agency, keys in seen.shares.items():
        distinct = Counter(s for s, _ in set(keys))
        if seen.readmodel.get(agency, {}) != dict(distinct):
            return False
    return True
