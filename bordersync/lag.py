"""Consumer-group lag, and ``bordersync lag`` (print once, or export).

Ends come from ListOffsets (the high watermark), the group's commits from OffsetFetch. The
reader uses the group id only to read commits: it never joins the group and never commits.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, KafkaException, TopicPartition

from bordersync.cliapi import AddCommand
from bordersync.kafka import consumer_conf, kafka_error
from bordersync.metrics import PartitionLag
from bordersync.output import add_output, emit
from bordersync.settings import Settings

TIMEOUT_S = 10.0
# ListOffsets answered by a broker that does not lead the partition *yet*: a topic just created,
# or a leader moving (broker restart). librdkafka does not retry these for
# get_watermark_offsets, so `lag` failed on a healthy cluster moments after a topic appeared.
_LEADER_MOVING = (KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE)
_MARK_ATTEMPTS = 8


def _watermarks(consumer: Any, tp: TopicPartition) -> tuple[int, int]:
    for attempt in range(_MARK_ATTEMPTS):
        try:
            low, high = consumer.get_watermark_offsets(tp, timeout=TIMEOUT_S)
            return int(low), int(high)
        except KafkaException as exc:
            error = kafka_error(exc)
            moving = error is not None and error.code() in _LEADER_MOVING
            if not moving or attempt == _MARK_ATTEMPTS - 1:
                raise
            time.sleep(0.25 * (attempt + 1))  # 7 s in all: a leader election, not an outage
    raise AssertionError("unreachable")


def _partitions(consumer: Any, topic: str) -> list[int]:
    meta = consumer.list_topics(topic, timeout=TIMEOUT_S).topics.get(topic)
    if meta is None or meta.error is not None:
        return []
    return sorted(meta.partitions)


def read_lag(settings: Settings, group: str, topics: Iterable[str],
             only_committed: bool = True) -> list[PartitionLag]:
    """Lag of ``group`` on every partition of ``topics`` (physical names).

    With ``only_committed`` a topic is left out when the group has no commit on any of its
    partitions: the group does not read it, and its whole length is no one's lag.
    """
    conf = consumer_conf(settings, group)
    consumer = Consumer(conf)
    try:
        tps = [TopicPartition(t, p) for t in topics for p in _partitions(consumer, t)]
        if not tps:
            return []
        committed = {(tp.topic, tp.partition): tp.offset
                     for tp in consumer.committed(tps, timeout=TIMEOUT_S)}
        read_topics = {t for (t, _), off in committed.items() if off != OFFSET_INVALID and off >= 0}
        if only_committed:
            tps = [tp for tp in tps if tp.topic in read_topics]
        marks = {(tp.topic, tp.partition): _watermarks(consumer, tp) for tp in tps}
        rows = []
        for (topic, partition), (low, high) in sorted(marks.items()):
            off = committed[(topic, partition)]
            rows.append(PartitionLag(
                group=group, topic=topic, partition=partition,
                committed=None if off < 0 else off, low=low,
                end=high,
            ))
        return rows
    finally:
        consumer.close()


def _topics(settings: Settings, streams: list[str] | None) -> list[str]:
    from bordersync.border import load_border_config
    from bordersync.catalogue import logical_streams

    names = streams or logical_streams(load_border_config(settings.border_config))
    return [settings.topic(s) for s in names]


def _export(settings: Settings, groups: list[str], topics: list[str], interval: float) -> int:
    from prometheus_client import CollectorRegistry, Gauge

    from bordersync.metrics import serve

    # A private registry: the consumers' own lag gauge has the same name on the default one.
    registry = CollectorRegistry()
    gauge = Gauge("bordersync_consumer_lag_records",
                  "Records a consumer group has not yet committed (log end minus commit).",
                  ["group", "topic", "partition"], registry=registry)
    port = serve(settings.metrics_port, registry=registry)
    print(json.dumps({"metrics_port": port}), flush=True)
    while True:
        rows = [r for g in groups for r in read_lag(settings, g, topics)]
        gauge.clear()
        for r in rows:
            gauge.labels(group=r.group, topic=r.topic, partition=str(r.partition)).set(r.lag)
        time.sleep(interval)


def cmd_lag(args: argparse.Namespace, settings: Settings) -> int:
    groups = args.group or [f"{settings.topic_prefix}streams"]
    topics = _topics(settings, args.stream)
    if args.serve:
        return _export(settings, groups, topics, args.interval)
    rows = [r for g in groups for r in read_lag(settings, g, topics)]
    # JSON lines unless -o table (what lag always printed: scripts read it).
    emit(({**asdict(r), "lag": r.lag} for r in rows), args.output or "json",
         lambda r: f"{r['group']:28} {r['topic']:28} {r['partition']:>3}  lag={r['lag']}")
    return 0


def register(add: AddCommand) -> None:
    p = add("lag", cmd_lag, "consumer-group lag (print, or --serve)")
    p.add_argument("--group", action="append",
                   help="consumer group (repeatable; default: the streams worker's)")
    p.add_argument("--stream", action="append", help="logical stream (repeatable; default: all)")
    p.add_argument("--serve", action="store_true",
                   help="export bordersync_consumer_lag_records on BORDERSYNC_METRICS_PORT")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between refreshes")
    add_output(p, "group, topic, partition, lag", default="json")
