"""Signed events end to end: keys made with `bordersync keys`, events published with `bordersync
publish`, a worker that requires signatures. Genuine records (signed before and after a key
rotation) reach `crossings`; a tampered and an unsigned one land in `dlq` with the reason; a
rotation while the worker runs is picked up from the trust file without a restart."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from bordersync.border import load_border_config
from bordersync.events import validate
from bordersync.kafka import producer_conf
from bordersync.settings import Settings
from bordersync.wire import codec
from producers.sdk import Signers, to_record
from tests.conftest import Proc, run_cli, wait_for
from tests.helpers import crossing
from tests.integration.streams_support import header_pairs, read_to_end


def tail(stream: str, settings: Settings) -> list[dict[str, Any]]:
    """Every record of a stream so far, with its headers as text."""
    records: list[dict[str, Any]] = []
    for msg in read_to_end(settings, settings.topic(stream)):
        headers = {n: v.decode(errors="replace") if isinstance(v, bytes) else str(v)
                   for n, v in header_pairs(msg)}
        value = msg.value()
        decoded = None if stream == "dlq" or value is None else codec.decode(stream, value)
        records.append({"headers": headers, "value": decoded})
    return records


def ids(stream: str, settings: Settings) -> list[str]:
    return sorted(r["value"]["event_id"] for r in tail(stream, settings))


def cli(args: list[str], settings: Settings, stdin: str | None = None) -> str:
    done = run_cli(args, settings, stdin=stdin)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def publish(settings: Settings, tmp_path: Path, *events: dict[str, Any]) -> None:
    path = tmp_path / f"{events[0]['event_id']}.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    cli(["publish", "--file", str(path)], settings)


def test_signed_events_flow_and_forged_ones_are_dead_lettered(
    make_settings: Callable[..., Settings], spawn: Callable[..., Proc], tmp_path: Path
) -> None:
    settings = make_settings(require_signatures=True)
    first_mk = cli(["keys", "generate", "--admin", "MK"], settings).splitlines()[0]
    cli(["keys", "generate", "--admin", "AL"], settings)
    publish(settings, tmp_path, crossing(event_id="before-rotation", plate="SK 1000 AA"))
    second_mk = cli(["keys", "rotate", "--admin", "MK"], settings).splitlines()[0]
    assert second_mk != first_mk and second_mk.startswith("MK:")
    publish(settings, tmp_path,
            crossing(event_id="after-rotation", plate="SK 2000 AA"),
            crossing(event_id="al-entry", admin="AL", post="ALQTH01", direction="ENTRY",
                     plate="AA 3000 BB"))

    # Forged records, produced the way a compromised relay or a key-less producer would.
    genuine = to_record(validate(crossing(event_id="tampered", plate="SK 4000 AA"),
                                 load_border_config()), settings, Signers(settings))
    tampered_value = codec.encode("raw", {**validate(crossing(
        event_id="tampered", plate="SK 4000 AA", gross_mass_kg=1), load_border_config())})
    unsigned = validate(crossing(event_id="unsigned", plate="SK 5000 AA"), load_border_config())
    producer = Producer(producer_conf(settings))
    producer.produce(settings.topic("raw"), key=genuine.key, value=tampered_value,
                     headers=[(n, v) for n, v in genuine.headers if isinstance(v, bytes)])
    producer.produce(settings.topic("raw"), key=b"SK5000AA", value=codec.encode("raw", unsigned),
                     headers=[("event_id", b"unsigned")])
    assert producer.flush(30) == 0

    worker = spawn(["streams", "worker"], settings)
    wait_for(lambda: len(tail("crossings", settings)) >= 3 and len(tail("dlq", settings)) >= 2,
             90, "three crossings and two dead letters")
    assert ids("crossings", settings) == ["after-rotation", "al-entry", "before-rotation"]
    dead = {d["headers"]["event_id"]: d["headers"] for d in tail("dlq", settings)}
    assert set(dead) == {"tampered", "unsigned"}
    assert {h["dlq.stage"] for h in dead.values()} == {"signature"}
    assert f"bad signature for key {second_mk}" in dead["tampered"]["dlq.error"]
    assert "unsigned" in dead["unsigned"]["dlq.error"]

    # A rotation while the worker runs: its new key is trusted once the trust file changes.
    third_mk = cli(["keys", "rotate", "--admin", "MK"], settings).splitlines()[0]
    publish(settings, tmp_path, crossing(event_id="after-live-rotation", plate="SK 6000 AA"))
    wait_for(lambda: "after-live-rotation" in ids("crossings", settings),
             60, f"a record signed by {third_mk}")
    assert len(tail("dlq", settings)) == 2
    assert worker.popen.poll() is None, worker.output()
