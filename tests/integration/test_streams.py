"""The streams worker against the real broker: dedup, matching, alerts, sharing, DLQ, replay."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from bordersync.border import load_border_config
from bordersync.kafka import consumer_conf, producer_conf
from bordersync.settings import Settings
from bordersync.wire import codec
from streams.processor import InRecord, Processor
from tests.conftest import Proc, run_cli, wait_for
from tests.helpers import crossing, inspection
from tests.integration.streams_support import Reader, pair_ids, produce_raw, publish, read_to_end
from tooling import stack

NOW = datetime.now(UTC).replace(microsecond=0)


def t(minutes: float) -> str:
    return (NOW + timedelta(minutes=minutes)).isoformat()


def al_entry(**kw: object) -> dict[str, object]:
    return crossing(**{"admin": "AL", "post": "ALQTH01", "direction": "ENTRY",
                       "terminal_id": "al-qth-1", **kw})


def test_worker_end_to_end(settings: Settings, spawn: Callable[..., Proc]) -> None:
    events = [
        inspection(event_id="i1", event_time=t(-20), result="HOLD", findings="seal broken"),
        crossing(event_id="x1", event_time=t(-10), gross_mass_kg=20000, seals=["S1"]),
        crossing(event_id="x1", event_time=t(-10), gross_mass_kg=20000, seals=["S1"]),  # re-send
        al_entry(event_id="n1", event_time=t(-2), plate="ЅК-1234-АВ", gross_mass_kg=20100,
                 seals=["S9"]),
        crossing(event_id="x2", plate="BG 123-AB", event_time=t(-5)),
        crossing(event_id="x2", plate="BG 123-AB", event_time=t(-5), passengers=3),  # edited
    ]
    publish(settings, events)
    produce_raw(settings, [(b"junk", b"\x00\x00not avro at all")])
    port = stack.free_port()
    worker = spawn(["streams", "worker"], settings.model_copy(update={"metrics_port": port}))
    reader = Reader(settings, ["crossings", "inspections", "matched", "alerts", "dlq",
                               "share.al-customs", "share.al-border-police", "share.mk-customs"])
    try:
        got = reader.wait(lambda g: len(g["matched"]) >= 1 and len(g["alerts"]) >= 3
                          and len(g["dlq"]) >= 1, 90, "matched, alerts and dlq")
        reader.poll(2)
    finally:
        reader.close()
    assert worker.popen.poll() is None, worker.output()[-3000:]
    assert sorted(r["event_id"] for r in got["crossings"]) == ["n1", "x1", "x2"]
    assert pair_ids(got) == {("x1", "n1")}
    (m,) = got["matched"]
    assert [d["field"] for d in m["discrepancies"]] == ["seals"]
    assert [i["event_id"] for i in m["inspections"]] == ["i1"]
    assert sorted(a["type"] for a in got["alerts"]) == [
        "CONFLICTING_DUPLICATE", "DISCREPANCY", "INSPECTION_HOLD"]
    # Mutual recognition: the MK inspection reached Albanian customs; police never see it.
    al = got["share.al-customs"]
    assert any(s["stream"] == "inspections" and s["record"]["event_id"] == "i1" for s in al)
    police = got["share.al-border-police"]
    assert {s["stream"] for s in police} <= {"crossings", "matched", "alerts"}
    agreed = load_border_config().agency("al-border-police").streams
    for s in police:
        assert set(s["record"]) <= set(agreed[s["stream"]])
    (letter,) = got["dlq"]
    headers = dict(letter.headers())
    assert letter.value() == b"\x00\x00not avro at all" and letter.key() == b"junk"
    assert headers["dlq.stage"] == b"decode" and headers["origin"] == b"test"
    assert headers["dlq.source.topic"] == settings.topic("raw").encode()
    # The original record's timestamp (issue #14), whichever engine runs this test.
    (junk,) = [m for m in read_to_end(settings, settings.topic("raw")) if m.key() == b"junk"]
    assert headers["__bordersync.errors.timestamp"] == str(junk.timestamp()[1]).encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        exposed = resp.read().decode()
    for line in ('bordersync_matched_total{crossing="kjafasan-qafe-thane"} 1.0',
                 'bordersync_duplicates_dropped_total{kind="exact"} 1.0',
                 'bordersync_duplicates_dropped_total{kind="conflicting"} 1.0',
                 f'bordersync_dlq_records_total{{source="{settings.topic("raw")}",stage="decode"}} 1.0',
                 'bordersync_discrepancies_total{crossing="kjafasan-qafe-thane",field="seals"} 1.0'):
        assert line in exposed, line
    assert 'bordersync_shared_records_total{agency="al-customs",stream="inspections"} 1.0' in exposed
    assert "bordersync_end_to_end_latency_seconds_bucket" in exposed


def test_dlq_replay_after_a_fix(settings: Settings, tmp_path: Path) -> None:
    # A post the shipped configuration does not know yet: rejected until the config is fixed.
    unknown = crossing(event_id="new-post-1", admin="MK", post="MKNEW01")
    value = codec.encode("raw", {**unknown, "event_time": datetime.fromisoformat(unknown["event_time"])})
    border = load_border_config()
    # Dead letters exactly as the worker writes them (the pure processor), published to the DLQ.
    letters = Processor(settings, border, settings.partitions).process(
        [InRecord(b"SK1234AB", value, [("origin", b"t")], settings.topic("raw"), 0, 7),
         InRecord(b"k", b"garbage", [], settings.topic("raw"), 1, 8)],
        NOW, lambda _plate: None).outputs
    producer = Producer(producer_conf(settings))
    for o in letters:
        assert o.stream == "dlq"
        producer.produce(settings.topic("dlq"), o.value, o.key, headers=o.headers)
    assert producer.flush(30) == 0

    dry = run_cli(["dlq", "replay", "--dry-run"], settings)
    assert dry.returncode == 1, dry.stderr  # both still fail
    assert "would replay 0; still failing 2" in dry.stdout, dry.stdout

    config = border.model_dump()
    config["crossings"].append({"id": "new", "name": "New", "window_minutes": 60,
                                "sides": {"MK": "MKNEW01", "AL": "ALNEW01"}})
    path = tmp_path / "border.json"
    path.write_text(json.dumps(config))
    fixed = settings.model_copy(update={"border_config": path})
    done = run_cli(["dlq", "replay"], fixed)
    # Exit 1: the garbage record still fails, and no commit passes it (issue #15,
    # tests/integration/test_dlq_replay.py); the fixed one went out.
    assert done.returncode == 1, done.stderr
    assert "replayed 1; still failing 1" in done.stdout, done.stdout
    assert "decode" in done.stdout
    again = run_cli(["dlq", "replay"], fixed)
    assert "still failing 1" in again.stdout, again.stdout
    reader = Reader(settings, ["raw"])
    try:
        got = reader.wait(lambda g: len(g["raw"]) >= 1, 30, "the replayed record on raw")
    finally:
        reader.close()
    assert {r["event_id"] for r in got["raw"]} == {"new-post-1"}


def test_unmatched_alert_and_stats_windows(make_settings: Callable[..., Settings],
                                           spawn: Callable[..., Proc]) -> None:
    settings = make_settings(grace_seconds=1, sweep_interval_seconds=0.5,
                             stats_window_seconds=60)
    start = (NOW - timedelta(hours=3)).replace(second=0)  # past window + grace
    publish(settings, [
        inspection(event_id="i1", event_time=(start - timedelta(minutes=20)).isoformat()),
        crossing(event_id="x1", event_time=start.isoformat()),
        al_entry(event_id="n1", event_time=(start + timedelta(seconds=30)).isoformat()),
        crossing(event_id="lonely", plate="BG 777-XX", event_time=start.isoformat()),
    ])
    worker = spawn(["streams", "worker"], settings)
    reader = Reader(settings, ["alerts", "stats"])
    try:
        got = reader.wait(lambda g: any(a["type"] == "UNMATCHED_EXIT" for a in g["alerts"])
                          and len(g["stats"]) >= 2, 90, "UNMATCHED_EXIT and stats windows")
    finally:
        reader.close()
    assert worker.popen.poll() is None, worker.output()[-3000:]
    (alert,) = [a for a in got["alerts"] if a["type"] == "UNMATCHED_EXIT"]
    assert alert["event_ids"] == ["lonely"] and alert["plate"] == "BG777XX"
    exits = next(s for s in got["stats"] if s["direction"] == "EXIT")
    assert exits["crossing"] == "kjafasan-qafe-thane" and exits["count"] == 2
    assert exits["matched"] == 1 and exits["transit_max_seconds"] == 30.0
    assert exits["dwell_count"] == 1 and exits["dwell_max_seconds"] == 1200.0  # i1 -> x1
    entries = next(s for s in got["stats"] if s["direction"] == "ENTRY")
    assert entries["count"] == 1 and entries["transit_p50_seconds"] == 30.0
    assert entries["dwell_count"] == 0 and entries["dwell_p50_seconds"] is None
    # The stats facts it counted are committed (the Faust engine's stats agent read them outside
    # the batches, and with the offsets committed in transactions and Faust's own commit
    # skipped, a restarted worker counted every fact again): committed up to the end.
    facts = settings.topic("stats-facts")
    # Its commit markers are gaps, not records the fetch skipped (each cost a warning and a seek).
    assert f"of {facts}[0] were skipped by the fetch" not in worker.output()
    end = int(read_to_end(settings, facts)[-1].offset() or 0) + 1  # one partition
    wait_for(lambda: committed_offset(settings, facts) >= end, 30, "the facts' offsets committed")


def committed_offset(settings: Settings, topic: str) -> int:
    consumer = Consumer(consumer_conf(settings, f"{settings.topic_prefix}streams"))
    try:
        (tp,) = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        return int(tp.offset)
    finally:
        consumer.close()
