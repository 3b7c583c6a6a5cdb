"""``bordersync publish``: validate JSON lines, store the valid ones durably, deliver them."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from confluent_kafka import Producer

from bordersync import codec
from bordersync.border import BorderConfig, load_border_config
from bordersync.events import InvalidEvent, validate
from bordersync.kafka import producer_conf
from bordersync.plates import normalise_plate
from bordersync.settings import Settings
from producers.outbox import DrainResult, Outbox, OutboxRecord

BATCH = 1000


@dataclass
class PublishReport:
    accepted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    drain: DrainResult | None = None


def to_record(event: dict[str, Any], settings: Settings) -> OutboxRecord:
    headers: list[tuple[str, str | bytes | None]] = [
        ("event_id", event["event_id"].encode()),
        ("kind", event["kind"].encode()),
        ("admin", event["admin"].encode()),
    ]
    return OutboxRecord(
        event_id=event["event_id"],
        topic=settings.topic("raw"),
        key=normalise_plate(event["plate"]).encode(),
        value=codec.encode("raw", event),
        headers=headers,
    )


def parse_lines(
    lines: Iterable[str], border: BorderConfig
) -> Iterable[tuple[int, dict[str, Any] | InvalidEvent]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            yield number, InvalidEvent(f"not valid JSON: {exc}")
            continue
        try:
            yield number, validate(obj, border)
        except InvalidEvent as exc:
            yield number, exc


def publish(
    lines: Iterable[str], settings: Settings, outbox: Outbox, err: TextIO = sys.stderr,
    deliver_timeout: float = 30.0,
) -> PublishReport:
    border = load_border_config(settings.border_config)
    report = PublishReport()
    pending: list[OutboxRecord] = []
    for number, result in parse_lines(lines, border):
        if isinstance(result, InvalidEvent):
            report.rejected.append((number, str(result)))
            print(f"line {number}: {result}", file=err)
            continue
        pending.append(to_record(result, settings))
        if len(pending) >= BATCH:
            outbox.append(pending)
            report.accepted += len(pending)
            pending = []
    outbox.append(pending)
    report.accepted += len(pending)
    producer = Producer(producer_conf(settings, **{"message.timeout.ms": 30_000}))
    report.drain = outbox.drain(producer, timeout=deliver_timeout)
    return report
