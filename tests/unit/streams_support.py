"""A broker-free harness around the pure processor for unit tests (injectable clock)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from bordersync.border import load_border_config
from bordersync.events import format_time, parse_time, validate
from bordersync.plates import normalise_plate
from bordersync.settings import Settings
from bordersync.wire import codec
from streams.processor import InRecord, Processor, partition_for

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def event(raw: dict[str, Any]) -> dict[str, Any]:
    return validate(raw, load_border_config())


def _default(value: object) -> str:
    if isinstance(value, datetime):
        return format_time(value)
    raise TypeError(type(value).__name__)


def _json(stream: str, record: dict[str, Any]) -> bytes:
    return json.dumps(record, default=_default).encode()


class Harness:
    def __init__(self, **overrides: Any) -> None:
        self.settings = Settings(**overrides)
        # JSON outputs: these tests are about the logic, the wire schemas have their own tests.
        self.processor = Processor(self.settings, load_border_config(), 4, encode=_json)
        self.store: dict[str, bytes] = {}
        self.owner: dict[str, int] = {}
        self.now = T0 + timedelta(minutes=5)
        self.tally: dict[tuple[str, tuple[str, ...]], int] = defaultdict(int)
        self.offset = 0

    def record(self, raw: dict[str, Any] | bytes, key: bytes | None = None) -> InRecord:
        # Encoded without validation, so invalid events reach the processor as a foreign
        # producer would send them.
        value = raw if isinstance(raw, bytes) else codec.encode(
            "raw", {**raw, "event_time": parse_time(raw["event_time"])})
        if key is None and isinstance(raw, dict):
            key = normalise_plate(raw["plate"]).encode()
        partition = partition_for(key, 4) if key else 0
        self.offset += 1
        return InRecord(key, value, [("h", b"v")], "raw", partition, self.offset)

    def feed(self, *raws: dict[str, Any] | bytes) -> dict[str, list[Any]]:
        return self.run([self.record(r) for r in raws])

    def run(self, records: list[InRecord]) -> dict[str, list[Any]]:
        result = self.processor.process(records, self.now, self.store.get)
        return self._apply(result)

    def sweep(self) -> dict[str, list[Any]]:
        items = [(k, self.owner.get(k, 0), v) for k, v in self.store.items()]
        return self._apply(self.processor.sweep(items, self.now))

    def _apply(self, result: Any) -> dict[str, list[Any]]:
        for plate, value in result.state.items():
            if value is None:
                self.store.pop(plate, None)
            else:
                self.store[plate] = value
                self.owner[plate] = result.owner[plate]
        for key, n in result.tally.counts.items():
            self.tally[key] += n
        out: dict[str, list[Any]] = defaultdict(list)
        for o in result.outputs:
            if o.stream in ("dlq", "raw", "stats-facts"):
                out[o.stream].append(o)
            else:
                out[o.stream].append(json.loads(o.value))
        return out

    def counts(self, metric: str) -> dict[tuple[str, ...], int]:
        return {labels: n for (name, labels), n in self.tally.items() if name == metric}
