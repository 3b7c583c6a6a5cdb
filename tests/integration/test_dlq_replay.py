"""``bordersync dlq replay`` (issue #15): it committed past records that still failed, ignored
delivery errors and exited 0. Now the commit of a partition stops at the first dead letter that
was not replayed and acknowledged, the exit code says whether everything in scope went out, and
``--json``, ``--stage``, ``--since``, ``--limit`` exist. Dead letters are written here exactly as
the worker writes them (streams/dlq.py), on one partition, so offsets are known."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from bordersync.events import parse_time
from bordersync.kafka import admin_conf, producer_conf
from bordersync.settings import Settings
from bordersync.wire import codec
from streams.dlq import dead_letter
from tests.conftest import run_cli
from tests.helpers import crossing
from tests.integration.streams_support import Reader


def _valid(event_id: str) -> bytes:
    event = crossing(event_id=event_id)
    return codec.encode("raw", {**event, "event_time": parse_time(event["event_time"])})


def _letters(settings: Settings, letters: list[tuple[bytes, str, str]]) -> None:
    """(value, stage, source topic) dead letters, in this order on DLQ partition 0."""
    producer = Producer(producer_conf(settings))
    for n, (value, stage, source) in enumerate(letters):
        d = dead_letter(key=b"SK1234AB", value=value, original_headers=[("origin", b"t")],
                        error="test", stage=stage, topic=source, partition=0, offset=n)
        producer.produce(settings.topic("dlq"), d.value, d.key, headers=d.headers, partition=0)
    assert producer.flush(30) == 0


def _replay(settings: Settings, *args: str) -> tuple[int, dict[str, object]]:
    done = run_cli(["dlq", "replay", "--json", "--idle-timeout", "3", *args], settings)
    return done.returncode, json.loads(done.stdout.splitlines()[-1])


def test_replay_never_commits_past_a_dead_letter_that_still_fails(settings: Settings) -> None:
    raw = settings.topic("raw")
    _letters(settings, [(_valid("d-0"), "validate", raw), (b"garbage", "decode", raw),
                        (_valid("d-2"), "validate", raw)])
    code, summary = _replay(settings)
    assert code == 1
    assert summary["replayed"] == 2 and summary["still_failing"] == 1 and not summary["ok"]
    assert summary["committed"] == {"0": 1}  # stops at the garbage record (offset 1)
    # The next replay sees the failing record again (and re-sends the one after it: harmless).
    code, again = _replay(settings)
    assert code == 1 and again["read"] == 2 and again["still_failing"] == 1
    reader = Reader(settings, ["raw"])
    try:
        got = reader.wait(lambda g: len(g["raw"]) >= 3, 30, "replayed records on raw")
    finally:
        reader.close()
    assert sorted({r["event_id"] for r in got["raw"]}) == ["d-0", "d-2"]


def test_replay_that_cannot_deliver_exits_nonzero_and_commits_nothing(settings: Settings) -> None:
    tiny = settings.topic("tiny")
    admin = AdminClient(admin_conf(settings))
    for future in admin.create_topics([NewTopic(tiny, 1, -1, config={
            "max.message.bytes": "64"})]).values():
        future.result(30)
    _letters(settings, [(_valid("u-0"), "validate", tiny)])
    code, summary = _replay(settings)
    assert code == 1
    assert summary["undelivered"] == 1 and summary["committed"] == {"0": 0}
    assert "TOO_LARGE" in json.dumps(summary["delivery_errors"])


def test_replay_filters_by_stage_time_and_count(settings: Settings) -> None:
    raw = settings.topic("raw")
    _letters(settings, [(_valid("f-0"), "validate", raw), (_valid("f-1"), "signature", raw),
                        (_valid("f-2"), "validate", raw), (_valid("f-3"), "validate", raw)])
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    code, summary = _replay(settings, "--since", future)
    assert code == 0 and summary["replayed"] == 0 and summary["out_of_scope"] == 4
    assert summary["committed"] == {"0": 0}  # nothing out of scope is committed past
    code, summary = _replay(settings, "--stage", "validate", "--limit", "1")
    assert code == 0 and summary["replayed"] == 1 and summary["committed"] == {"0": 1}
    code, summary = _replay(settings, "--stage", "validate", "--dry-run")
    assert code == 0 and summary["replayed"] == 2 and summary["out_of_scope"] == 1
    assert summary["committed"] == {}
    code, summary = _replay(settings, "--stage", "validate")
    # f-2 and f-3 go out, but the commit stays before the out-of-scope "signature" letter.
    assert summary["replayed"] == 2 and summary["committed"] == {"0": 1}
    bad = run_cli(["dlq", "replay", "--since", "yesterday"], settings)
    assert bad.returncode == 2 and "--since" in bad.stderr
