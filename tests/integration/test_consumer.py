"""Partner-agency consumer against the real broker and Redis: lookups, crash between sink write
and commit, read model rebuilt after Redis lost it, and agreements enforced."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from bordersync.border import load_border_config
from bordersync.kafka import consumer_conf
from bordersync.settings import Settings
from consumers.api import reader_for
from consumers.readmodel import AgencyContext, Keys, Write, plan
from consumers.runner import CRASH_EXIT_CODE, group_id
from consumers.sink import RedisSink, connect
from tests.conftest import Proc, run_cli, wait_for
from tooling.bench.consumers import journey, produce, share
from tooling.stack import free_port

AGENCY = "al-customs"
CTX = AgencyContext.of(load_border_config(), AGENCY)
AT = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def applied(settings: Settings, agency: str = AGENCY) -> int:
    return sum(reader_for(settings, agency).stats().values())


def wait_applied(settings: Settings, n: int, proc: Proc, agency: str = AGENCY) -> None:
    def done() -> bool:
        assert proc.popen.poll() is None, proc.output()
        return applied(settings, agency) >= n

    wait_for(done, 60, f"{n} records in the read model")


def test_lookup_in_any_spelling_and_bad_records_skipped(
        settings: Settings, spawn: Callable[..., Proc]) -> None:
    records = journey(CTX, "SK1234AB", "j1", AT, arrived=False)
    produce(settings, AGENCY, [*records, ("SK1234AB", b"\x00garbage"),
                               ("SK1234AB", share("mk-customs", "alerts", {"alert_id": "z"}))])
    consumer = spawn(["consume", "--agency", AGENCY], settings)
    wait_applied(settings, len(records), consumer)

    found = run_cli(["lookup", "--plate", "ѕк-1234 ав", "--agency", AGENCY, "--json"], settings)
    assert found.returncode == 0, found.stderr
    view = json.loads(found.stdout)
    assert view["plate"] == "SK1234AB" and view["status"] == "en_route"
    assert view["latest"]["exit"]["event_id"] == "j1-x"
    assert [(i["event_id"], i["recognised"]) for i in view["inspections"]] == [("j1-i", True)]
    text = run_cli(["lookup", "--plate", "sk 1234 ab", "--agency", AGENCY], settings)
    assert "status=en_route" in text.stdout and "recognised from the other side" in text.stdout

    wait_for(lambda: '"reason": "undecodable"' in consumer.output()
             and '"reason": "wrong_agency"' in consumer.output(), 30, "bad records skipped")
    assert consumer.popen.poll() is None, consumer.output()
    assert consumer.stop() == 0


def test_lookup_of_an_unknown_plate_or_agency(settings: Settings) -> None:
    missing = run_cli(["lookup", "--plate", "NO 0000", "--agency", AGENCY], settings)
    assert missing.returncode == 1 and "no record of plate NO0000" in missing.stderr
    unknown = run_cli(["lookup", "--plate", "x", "--agency", "xx-nobody"], settings)
    assert unknown.returncode == 2 and "known: mk-customs, al-customs" in unknown.stderr


def test_killed_between_sink_write_and_commit_has_no_duplicate_effect(
        make_settings: Callable[..., Settings], spawn: Callable[..., Proc]) -> None:
    settings = make_settings(consumer_batch_size=7, consumer_crash_after_batch=2, log_level="INFO")
    records = [r for i in range(8) for r in journey(CTX, f"KA{i:03d}BC", f"k{i}", AT)]
    produce(settings, AGENCY, records)

    crashing = spawn(["consume", "--agency", AGENCY], settings)
    assert crashing.popen.wait(60) == CRASH_EXIT_CODE, crashing.output()
    assert "crash injection" in crashing.output()
    written = applied(settings)
    assert written >= 2  # the batches are in Redis, the second one's offsets are not committed

    restarted = spawn(["consume", "--agency", AGENCY],
                      settings.model_copy(update={"consumer_crash_after_batch": 0}))
    wait_applied(settings, len(records), restarted)
    assert restarted.stop() == 0
    assert applied(settings) == len(records)  # counted once each, though delivered twice
    stopped = next(json.loads(line) for line in restarted.output().splitlines()
                   if '"consumer stopped"' in line)
    assert stopped["duplicates"] >= 1, restarted.output()
    reader = reader_for(settings, AGENCY)
    for i in range(8):
        view = reader.vehicle(f"KA{i:03d}BC")
        assert view is not None and len(view["journey"]) == 2 and len(view["alerts"]) == 1
        assert view["status"] == "arrived"


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        return resp.read().decode()


def _drop_read_model(settings: Settings) -> int:
    client = connect(settings)
    keys = list(client.scan_iter(match=Keys.of(settings, AGENCY).prefix + "*", count=1000))
    return int(client.delete(*keys)) if keys else 0


def test_read_model_rebuilt_from_the_topic_after_redis_lost_it(
        make_settings: Callable[..., Settings], spawn: Callable[..., Proc]) -> None:
    settings = make_settings(log_level="INFO")
    first = journey(CTX, "RB111AA", "r1", AT)
    produce(settings, AGENCY, first)
    consumer = spawn(["consume", "--agency", AGENCY], settings)
    wait_applied(settings, len(first), consumer)
    assert '"partitions assigned"' in consumer.output()

    # Lost while running and idle: the consumer notices the marker is gone and replays.
    assert _drop_read_model(settings) > 0
    wait_applied(settings, len(first), consumer)
    second = journey(CTX, "RB222AA", "r2", AT)
    produce(settings, AGENCY, second)
    wait_applied(settings, len(first) + len(second), consumer)
    assert consumer.stop() == 0
    assert "rebuilding from the beginning" in consumer.output()
    assert '"partitions revoked"' in consumer.output()

    # Lost while stopped: the group's committed offsets are at the end, the empty model rewinds.
    _drop_read_model(settings)
    again = spawn(["consume", "--agency", AGENCY], settings)
    wait_applied(settings, len(first) + len(second), again)
    assert '"rebuild_from_beginning": true' in again.output()
    reader = reader_for(settings, AGENCY)
    assert all(reader.vehicle(p) is not None for p in ("RB111AA", "RB222AA"))


def _committed_the_end(settings: Settings) -> bool:
    """The group's committed offset is the end of every partition of the share topic."""
    topic = settings.topic(f"share.{AGENCY}")
    probe = Consumer(consumer_conf(settings, group_id(settings, AGENCY)))  # never subscribes
    try:
        parts = probe.list_topics(topic, timeout=10).topics[topic].partitions
        committed = probe.committed([TopicPartition(topic, p) for p in parts], timeout=10)
        return all(tp.offset == probe.get_watermark_offsets(tp, timeout=10)[1] for tp in committed)
    finally:
        probe.close()


@pytest.mark.parametrize("wiped", ["while_stopped", "while_running"])
def test_killed_mid_rebuild_left_a_partial_read_model_never_completed(
        wiped: str, make_settings: Callable[..., Settings], spawn: Callable[..., Proc]) -> None:
    """Soak seed 22: the first rebuild batch set the marker, the kill came before its commit,
    and the next process trusted the group's offsets, still at the end of the topic."""
    settings = make_settings(consumer_batch_size=5, log_level="INFO")
    records = [r for i in range(8) for r in journey(CTX, f"MR{i:03d}AA", f"m{i}", AT)]
    produce(settings, AGENCY, records)
    first = spawn(["consume", "--agency", AGENCY], settings)
    wait_applied(settings, len(records), first)
    assert first.stop() == 0
    assert _committed_the_end(settings)

    # Redis loses the model; the consumer rebuilding it dies right after its first batch.
    crash = settings.model_copy(update={"consumer_crash_after_batch": 1})
    if wiped == "while_stopped":  # rewinds on assignment
        assert _drop_read_model(settings) > 0
        crashing = spawn(["consume", "--agency", AGENCY], crash)
    else:  # rewinds when its idle check finds the marker gone
        crashing = spawn(["consume", "--agency", AGENCY], crash)
        wait_for(lambda: '"partitions assigned"' in crashing.output(), 60, "an assignment")
        assert _drop_read_model(settings) > 0
    assert crashing.popen.wait(60) == CRASH_EXIT_CODE, crashing.output()
    assert 0 < applied(settings) <= 5
    assert connect(settings).exists(Keys.of(settings, AGENCY).marker())

    restarted = spawn(["consume", "--agency", AGENCY], settings)

    def caught_up() -> bool:
        assert restarted.popen.poll() is None, restarted.output()
        return _committed_the_end(settings)

    wait_for(caught_up, 60, "the group's offsets committed at the end again")
    assert applied(settings) == len(records), restarted.output()
    assert restarted.stop() == 0
    reader = reader_for(settings, AGENCY)
    assert all(reader.vehicle(f"MR{i:03d}AA") is not None for i in range(8))


def test_agency_sees_only_fields_its_agreement_lists(
        make_settings: Callable[..., Settings], spawn: Callable[..., Proc]) -> None:
    settings = make_settings(metrics_port=free_port())
    police = AgencyContext.of(load_border_config(), "mk-border-police")
    # Shares addressed to MK police built from the AL-side journey; AL exits towards MK.
    records: list[tuple[str, dict[str, Any]]] = []
    for key, rec in journey(AgencyContext.of(load_border_config(), "mk-customs"), "PL123AB", "p1", AT):
        records.append((key, {**rec, "agency": police.name}))
    produce(settings, police.name, records)
    consumer = spawn(["consume", "--agency", police.name], settings)
    # inspections are not in the police agreement: skipped, the other four stored
    wait_applied(settings, len(records) - 1, consumer, police.name)

    client = connect(settings)
    keys = Keys.of(settings, police.name)
    # Record hashes only: the vehicle's other keys (journey index for retention) are not records.
    stored = [json.loads(v) for k in client.scan_iter(match=keys.prefix + "v:*", _type="HASH")
              for v in client.hgetall(k).values()]
    assert stored
    for entry in stored:
        allowed = police.fields[entry["stream"]]
        assert set(entry["record"]) <= allowed, entry
    view = reader_for(settings, police.name).vehicle("PL123AB")
    assert view is not None and view["inspections"] == []
    assert all("seals" not in s and "gross_mass_kg" not in s for s in view["journey"])
    assert "detail" not in view["alerts"][0] and "discrepancies" not in view["latest"]["matched"]
    def lags() -> list[str]:
        return [line for line in _metrics(settings.metrics_port).splitlines()
                if line.startswith("bordersync_consumer_lag_records{")]

    wait_for(lambda: bool(lags()), 30, "the lag gauge")
    assert all(line.endswith(" 0.0") for line in lags()), lags()  # caught up, never negative
    scraped = _metrics(settings.metrics_port)
    assert 'bordersync_consumer_records_total{agency="mk-border-police",stream="crossings"} 2.0' \
        in scraped
    assert 'reason="stream_not_in_agreement"} 1.0' in scraped
    assert consumer.stop() == 0
    out = consumer.output()
    assert '"reason": "stream_not_in_agreement"' in out
    assert "fields outside the agreement" in out


def test_sink_refuses_a_batch_when_the_read_model_it_expects_is_gone(settings: Settings) -> None:
    keys = Keys.of(settings, AGENCY)
    sink = RedisSink(connect(settings), keys, 3600)
    writes = [w for key, rec in journey(CTX, "SR1AB", "s1", AT)
              if isinstance(w := plan(rec, key.encode(), CTX, keys, AT.timestamp(), 3600), Write)]
    assert sink.apply(writes, expect_marker=True) is None  # nothing written: replay first
    assert not sink.has_marker() and applied(settings) == 0
    assert sink.apply(writes, expect_marker=False) == (len(writes), 0)
    assert sink.apply(writes, expect_marker=True) == (0, len(writes))  # re-delivery: no effect
    assert applied(settings) == len(writes)


def test_rebuild_flag_replaces_a_damaged_read_model(
        settings: Settings, spawn: Callable[..., Proc]) -> None:
    records = journey(CTX, "DM123AB", "d1", AT)
    produce(settings, AGENCY, records)
    keys = Keys.of(settings, AGENCY)
    client = connect(settings)
    # A model some older version wrote: marker present, a stale vehicle, the records marked seen.
    client.set(keys.marker(), "1")
    client.hset(keys.crossings("STALE1"), "old", "{}")
    for key, rec in records:
        write = plan(rec, key.encode(), CTX, keys, AT.timestamp(), 3600)
        assert isinstance(write, Write)
        client.set(keys.seen(write.idem), "1")
    consumer = spawn(["consume", "--agency", AGENCY, "--rebuild"], settings)
    wait_applied(settings, len(records), consumer)
    assert not client.exists(keys.crossings("STALE1"))
    view = reader_for(settings, AGENCY).vehicle("DM123AB")
    assert view is not None and view["status"] == "arrived" and len(view["alerts"]) == 1
