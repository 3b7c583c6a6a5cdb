"""What the soak prints when its outputs do not converge: where the missing events sit.

Lost and stuck look the same from the outputs. What tells them apart is on the broker: for every
partition of the raw topic the group's committed offset against the true end (read to EOF, next
to ListOffsets' high watermark; with transactions the two differ by the commit markers) and
against the offsets of the missing events. A missing event *below* the committed offset was
skipped (a commit ran ahead of processing: lost); one at or above it is still to be consumed
(stuck: is the partition owned?).
Groups' members and assignments come from DescribeGroups where the broker answers it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

from bordersync.kafka import admin_conf, consumer_conf
from bordersync.settings import Settings
from bordersync.wire import codec

TIMEOUT_S = 10.0


@dataclass
class PartitionScan:
    """One topic-partition read from the beginning to EOF."""

    listed_end: int  # ListOffsets' high watermark (includes transaction markers)
    end: int = 0  # last offset read + 1
    records: int = 0
    # raw topics only: event id -> offsets it occupies
    ids: dict[str, list[int]] = field(default_factory=dict)
    # dead-letter topics only: event id -> "stage: error" of each dead letter
    dead: dict[str, list[str]] = field(default_factory=dict)


def scan(settings: Settings, topics: Iterable[str], ids_of: set[str],
         dead_of: frozenset[str] = frozenset()) -> dict[tuple[str, int], PartitionScan]:
    """Read ``topics`` to EOF by assignment (no group). Records event ids of topics in ``ids_of``
    and, for dead-letter topics in ``dead_of``, each dead raw event's stage and error."""
    consumer = Consumer(consumer_conf(settings, f"soakdiag-{time.monotonic_ns()}",
                                      **{"enable.partition.eof": True}))
    try:
        tps = []
        scans: dict[tuple[str, int], PartitionScan] = {}
        for topic in topics:
            meta = consumer.list_topics(topic, timeout=TIMEOUT_S).topics[topic]
            for p in sorted(meta.partitions):
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=TIMEOUT_S)
                scans[(topic, p)] = PartitionScan(listed_end=high)
                tps.append(TopicPartition(topic, p, OFFSET_BEGINNING))
        consumer.assign(tps)
        pending = set(scans)
        deadline = time.monotonic() + 60
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(2000, 0.5):
                key = (str(msg.topic()), int(msg.partition() or 0))
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        pending.discard(key)
                    continue
                s = scans[key]
                offset = int(msg.offset() or 0)
                s.end, s.records = max(s.end, offset + 1), s.records + 1
                if key[0] in ids_of or key[0] in dead_of:
                    value = codec.decode("raw", msg.value())
                    if not isinstance(value, dict) or "event_id" not in value:
                        continue
                    if key[0] in ids_of:
                        s.ids.setdefault(str(value["event_id"]), []).append(offset)
                    else:
                        pairs: Any = msg.headers() or []
                        h = {k: bytes(v or b"").decode(errors="replace") for k, v in pairs}
                        s.dead.setdefault(str(value["event_id"]), []).append(
                            f"{h.get('dlq.stage', '?')}: {h.get('dlq.error', '?')[:120]}")
        return scans
    finally:
        consumer.close()


def committed(settings: Settings, group: str, tps: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """The group's committed offsets (OffsetFetch; -1001 = none), read without joining."""
    consumer = Consumer(consumer_conf(settings, group))
    try:
        got = consumer.committed([TopicPartition(t, p) for t, p in tps], timeout=TIMEOUT_S)
        return {(tp.topic, tp.partition): tp.offset for tp in got}
    finally:
        consumer.close()


def describe(settings: Settings, groups: list[str]) -> list[str]:
    """One line per group: state and members with their assignments, or why it is unknown."""
    admin = AdminClient(admin_conf(settings))
    lines = []
    try:
        futures = admin.describe_consumer_groups(groups, request_timeout=TIMEOUT_S)
    except Exception as exc:  # the broker may not implement it; say so and carry on
        return [f"    describe groups: {type(exc).__name__}: {exc}"]
    for group, future in futures.items():
        try:
            d = future.result()
        except Exception as exc:
            lines.append(f"    group {group}: describe failed: {exc}")
            continue
        members = []
        for m in d.members:
            parts = sorted((tp.topic.rsplit(".", 1)[-1], tp.partition)
                           for tp in (m.assignment.topic_partitions if m.assignment else []))
            members.append(f"{m.client_id}@{m.host} {parts}")
        lines.append(f"    group {group}: state {d.state} coordinator "
                     f"{getattr(d.coordinator, 'id', '?')} members {len(members)}: "
                     + "; ".join(members))
    return lines


def diagnose(settings: Settings, missing: set[str], groups: dict[str, list[str]],
             say: Callable[[str], None]) -> dict[str, Any]:
    """Print per partition: listed/true end, each group's commit, and where ``missing`` sit.

    ``groups``: group id -> the logical streams it consumes. Returns a summary of the missing
    raw events: how many sit below their partition's committed offset (skipped) or above (unread).
    """
    streams = sorted({s for ss in groups.values() for s in ss}
                     | {"raw", "crossings", "inspections", "matched", "alerts", "dlq"})
    topics = [settings.topic(s) for s in streams]
    raw, dlq = settings.topic("raw"), settings.topic("dlq")
    scans = scan(settings, topics, {raw}, frozenset({dlq}))
    commits: dict[str, dict[tuple[str, int], int]] = {}
    for group, consumed in groups.items():
        tps = [k for k in scans if k[0] in {settings.topic(s) for s in consumed}]
        commits[group] = committed(settings, group, tps)
    say(f"  diagnostics: {len(missing)} events missing from the outputs")
    summary = {"skipped": 0, "unread": 0, "not_in_raw": 0, "dead_lettered": 0}
    for (topic, p), s in sorted(scans.items()):
        marks = [f"{g.removeprefix(settings.topic_prefix)}={c[(topic, p)]}"
                 for g, c in commits.items() if (topic, p) in c]
        line = (f"    {topic.removeprefix(settings.topic_prefix)}[{p}]: end {s.end} "
                f"(listed {s.listed_end}) records {s.records}"
                + (f" committed {' '.join(marks)}" if marks else ""))
        if topic == raw:
            here = sorted((min(offs), i) for i, offs in s.ids.items() if i in missing)
            commit = next((c[(topic, p)] for c in commits.values() if (topic, p) in c), -1)
            below = [o for o, _ in here if 0 <= o < commit]
            summary["skipped"] += len(below)
            summary["unread"] += len(here) - len(below)
            if here:
                line += (f" missing {len(here)} at offsets {here[0][0]}..{here[-1][0]}"
                         f" ({len(below)} below the commit) e.g. {[i for _, i in here[:3]]}")
        say(line)
    in_raw = {i for (t, _), s in scans.items() if t == raw for i in s.ids}
    summary["not_in_raw"] = len(missing - in_raw)
    if summary["not_in_raw"]:
        say(f"    {summary['not_in_raw']} missing events are not on the raw topic at all "
            f"e.g. {sorted(missing - in_raw)[:3]}")
    dead = {i: r for (t, _), s in scans.items() if t == dlq for i, r in s.dead.items()}
    summary["dead_lettered"] = len(missing & set(dead))
    reasons = Counter(r for i in missing & set(dead) for r in set(dead[i]))
    for reason, n in reasons.most_common(5):
        say(f"    {n} missing events are on the dead-letter topic: {reason}")
    for line in describe(settings, list(groups)):
        say(line)
    say(f"  diagnostics summary: {summary}")
    return summary


def last_assignment(log: str, raw_topic: str) -> str:
    """The last assignment a child logged (Faust's table or the consumer's JSON line)."""
    faust = log.rfind("Setting newly assigned partitions")
    consumer = log.rfind('"partitions assigned"')
    if faust < 0 and consumer < 0:
        return "no assignment logged"
    if faust > consumer:
        at = log[:faust].rfind("\n") + 1
        # A worker that holds partitions but never finished recovery processes nothing.
        state = ("recovered" if "Recovery complete" in log[faust:] else "recovery not complete")
        for line in log[faust:].splitlines()[1:12]:
            if f"| {raw_topic} " in line:
                return f"{log[at:at + 25]} raw {line.split('|')[2].strip()}, {state}"
        return f"{log[at:at + 25]} no raw partitions, {state}"
    line = log[log[:consumer].rfind("\n") + 1:].split("\n", 1)[0]
    at = line.find('"ts": "')
    parts = line[line.find('"partitions": ') + 14:].split("]", 1)[0] + "]"
    return f"{line[at + 7:at + 30]} {parts}"
