"""Records written by one process are decoded by another started later (embedded ids, no registry)."""

from __future__ import annotations

import io
import json
import struct

from confluent_kafka import Producer
from fastavro import schemaless_writer

from bordersync.border import load_border_config
from bordersync.events import validate
from bordersync.kafka import producer_conf
from bordersync.settings import Settings
from bordersync.wire.schemas import catalogue
from tests.conftest import run_cli
from tests.helpers import crossing, inspection


def _v1_crossing_bytes() -> bytes:
    """What a terminal still on crossing event v1 (raw v1, no ``priority``) would write."""
    v1 = catalogue().families["raw"][0]
    record = validate(crossing(event_id="old-1", plate="SK 9999 ZZ"), load_border_config())
    out = io.BytesIO()
    out.write(struct.pack(">bI", 0, v1.schema_id))
    schemaless_writer(out, v1.parsed, ("bordersync.CrossingEvent", record))
    return out.getvalue()


def test_publish_then_tail_in_another_process(settings: Settings) -> None:
    lines = [
        json.dumps(crossing(event_id="c1", priority="GREEN_LANE", seals=["S-1", "S-2"])),
        json.dumps(inspection(event_id="i1", findings="density ok")),
    ]
    published = run_cli(["publish", "--file", "-"], settings, stdin="\n".join(lines) + "\n")
    assert published.returncode == 0, published.stderr

    producer = Producer(producer_conf(settings))
    producer.produce(settings.topic("raw"), _v1_crossing_bytes(), b"SK9999ZZ")
    producer.produce(settings.topic("raw"), b"not avro at all", b"junk")
    assert producer.flush(30) == 0

    tailed = run_cli(["tail", "raw", "--json", "--from-beginning", "--idle-timeout", "5"], settings)
    assert tailed.returncode == 0, tailed.stderr
    rows = [json.loads(line) for line in tailed.stdout.splitlines()]
    by_id = {r["event_id"]: r for r in rows if "event_id" in r}
    assert set(by_id) == {"c1", "i1", "old-1"}
    assert by_id["c1"]["priority"] == "GREEN_LANE"
    assert by_id["c1"]["seals"] == ["S-1", "S-2"]
    assert by_id["c1"]["event_time"] == "2026-11-25T09:00:00.000Z"
    assert by_id["i1"]["findings"] == "density ok"
    assert "priority" not in by_id["old-1"]  # v1 writer, v2 reader: absent optional stays absent
    errors = [r for r in rows if "error" in r]
    assert len(errors) == 1
    assert "magic byte 110" in errors[0]["error"]
    assert errors[0]["value"] == {"text": "not avro at all"}


def test_tail_envelope_and_table_outputs(settings: Settings) -> None:
    published = run_cli(["publish", "--file", "-"], settings,
                        stdin=json.dumps(crossing(event_id="c9")) + "\n")
    assert published.returncode == 0, published.stderr
    args = ["tail", "raw", "--from-beginning", "--idle-timeout", "3"]
    enveloped = run_cli([*args, "-o", "json"], settings)
    assert enveloped.returncode == 0, enveloped.stderr
    (row,) = [json.loads(line) for line in enveloped.stdout.splitlines()]
    assert row["topic"] == settings.topic("raw") and row["offset"] == 0
    assert row["key"] and row["timestamp"].endswith("Z") and row["value"]["event_id"] == "c9"
    table = run_cli(args, settings)
    assert table.returncode == 0 and "event_id=c9" in table.stdout and "{" not in table.stdout
    version = run_cli(["--version"], settings)
    assert version.returncode == 0 and version.stdout.startswith("bordersync ")
