"""Poison records in the middle of a partition: the worker dead-letters each one with its reason
and original bytes, and the valid records before and after it are processed untouched."""

from __future__ import annotations

import base64
import json
import random
import struct
from collections.abc import Callable
from typing import Any

from confluent_kafka import Producer

from bordersync.border import load_border_config
from bordersync.events import validate
from bordersync.kafka import producer_conf
from bordersync.plates import normalise_plate
from bordersync.settings import Settings
from bordersync.wire import codec
from tests.conftest import Proc, run_cli, wait_for
from tests.helpers import crossing, inspection


def record(event: dict[str, Any]) -> tuple[bytes, bytes]:
    return normalise_plate(event["plate"]).encode(), codec.encode("raw", event)


def tail(stream: str, settings: Settings, idle: float) -> list[dict[str, Any]]:
    out = run_cli(["tail", stream, "--json", "--from-beginning", "--idle-timeout", str(idle)],
                  settings, timeout=240)
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_poison_records_go_to_the_dlq_and_the_rest_flows(
    settings: Settings, spawn: Callable[..., Proc]
) -> None:
    border = load_border_config()
    rnd = random.Random(20261125)
    c1 = validate(crossing(event_id="c1"), border)
    c2 = validate(crossing(event_id="c2", plate="SK 2222 AB"), border)
    c3 = validate(crossing(event_id="c3", admin="AL", post="ALQTH01", direction="ENTRY"), border)
    i1 = validate(inspection(event_id="i1"), border)
    key, good = record(c1)
    # A record the schema accepts but the contract does not: AL claiming an MK post.
    wrong_post = codec.encode("raw", {**c2, "event_id": "bad-post", "admin": "AL"})
    poison: list[tuple[str, bytes | None]] = [
        ("random bytes", bytes(rnd.randrange(256) for _ in range(64))),
        ("wrong schema id", struct.pack(">bI", 0, 0x7EADBEEF) + good[5:]),
        ("truncated", good[: len(good) // 2]),
        ("oversized garbage", b"\x00" + bytes(rnd.randrange(256) for _ in range(600_000))),
        ("json text", json.dumps(crossing(event_id="json")).encode()),
        ("tombstone", None),
        ("invalid event", wrong_post),
    ]
    sequence: list[tuple[bytes, bytes | None]] = [record(c1)]
    sequence += [(key, value) for _, value in poison[:4]]
    sequence.append(record(i1))
    sequence += [(key, value) for _, value in poison[4:]]
    sequence += [record(c2), record(c3)]

    producer = Producer(producer_conf(settings, **{"message.max.bytes": 2_000_000}))
    for k, v in sequence:
        # One partition, in this order: the poison sits between valid records.
        producer.produce(settings.topic("raw"), key=k, value=v, partition=0)
    assert producer.flush(30) == 0

    worker = spawn(["streams", "worker"], settings)
    # The last record of the partition is c3: once the DLQ and c3 are out, everything is.
    wait_for(lambda: len(tail("crossings", settings, idle=2)) >= 3, 90, "c1, c2 and c3")
    crossings = tail("crossings", settings, idle=2)
    inspections = tail("inspections", settings, idle=2)
    dead = tail("dlq", settings, idle=2)
    assert worker.popen.poll() is None, worker.output()

    assert sorted(r["event_id"] for r in crossings) == ["c1", "c2", "c3"]
    assert [r["event_id"] for r in inspections] == ["i1"]
    assert len(dead) == len(poison), [d["headers"].get("dlq.error") for d in dead]
    poisoned_offsets = [n for n, (_, v) in enumerate(sequence)
                        if v is None or v in {p for _, p in poison}]
    assert sorted(int(d["headers"]["dlq.source.offset"]) for d in dead) == poisoned_offsets
    for d in dead:
        assert d["headers"]["dlq.error"].strip(), d
        assert d["headers"]["dlq.source.topic"] == settings.topic("raw")
        offset = int(d["headers"]["dlq.source.offset"])
        original = sequence[offset][1]
        value = d["value"]
        kept = None if value is None else (
            value["text"].encode() if "text" in value else base64.b64decode(value["base64"]))
        assert kept == original, (offset, d["headers"]["dlq.error"])
    reasons = " | ".join(d["headers"]["dlq.error"] for d in dead)
    assert "does not belong to administration 'AL'" in reasons, reasons
