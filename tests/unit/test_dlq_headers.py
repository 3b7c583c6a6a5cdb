"""DLQ headers: KIP-1034 names (+ our stage), the legacy dlq.* ones beside them, and a replay that
reads letters written with either naming."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from confluent_kafka import Message

from bordersync.border import load_border_config
from bordersync.settings import Settings
from streams import dlq
from streams.processor import InRecord, Processor
from streams.replay import _source


class _Letter:
    """What ``_source`` reads of a consumed dead letter."""

    def __init__(self, headers: list[tuple[str, bytes]]) -> None:
        self._headers = headers

    def headers(self) -> list[tuple[str, bytes]]:
        return self._headers


def _letter(**kw: Any) -> dlq.DeadLetter:
    return dlq.dead_letter(**{"key": b"K", "value": b"v", "original_headers": [("origin", b"t")],
                              "error": "offset 7: bad", "stage": "validate", "topic": "raw",
                              "partition": 2, "offset": 7, **kw})


def test_dead_letters_carry_kip_1034_headers_and_our_stage() -> None:
    h = dict(_letter().headers)
    assert h["__streams.errors.exception"] == b"bordersync.events.InvalidEvent"
    assert h["__streams.errors.message"] == b"offset 7: bad"
    assert (h["__streams.errors.topic"], h["__streams.errors.partition"],
            h["__streams.errors.offset"]) == (b"raw", b"2", b"7")
    assert h["__bordersync.errors.stage"] == b"validate"
    # ... and the names written before issue #14, for readers that know only those
    assert (h["dlq.error"], h["dlq.stage"], h["dlq.source.topic"]) == (
        b"offset 7: bad", b"validate", b"raw")
    assert dict(_letter(stage="decode").headers)["__streams.errors.exception"] == \
        b"bordersync.wire.codec.DecodeError"


def test_replay_reads_new_names_and_strips_every_dlq_header() -> None:
    topic, stage, original = _source(cast(Message, _Letter(_letter().headers)))
    assert (topic, stage, original) == ("raw", "validate", [("origin", b"t")])


def test_replay_reads_a_letter_written_before_issue_14() -> None:
    old = [("origin", b"t"), ("dlq.error", b"bad"), ("dlq.stage", b"signature"),
           ("dlq.source.topic", b"raw"), ("dlq.source.partition", b"0"),
           ("dlq.source.offset", b"3")]
    assert _source(cast(Message, _Letter(old))) == ("raw", "signature", [("origin", b"t")])


def test_replay_prefers_the_kip_names_when_both_disagree() -> None:
    both = [("dlq.source.topic", b"old"), ("__streams.errors.topic", b"new"),
            ("__bordersync.errors.stage", b"decode"), ("dlq.stage", b"validate")]
    assert _source(cast(Message, _Letter(both)))[:2] == ("new", "decode")
    assert _source(cast(Message, _Letter([("origin", b"t")]))) == (None, "", [("origin", b"t")])


def test_a_dead_letter_carries_the_original_records_timestamp() -> None:
    """Issue #14: the original topic/partition/offset were there, the original time was not."""
    h = dict(_letter(timestamp=1764500000123).headers)
    assert h["__bordersync.errors.timestamp"] == b"1764500000123"
    assert dlq.source_headers(list(h.items()))[dlq.TIMESTAMP] == "1764500000123"
    assert "__bordersync.errors.timestamp" not in dict(_letter().headers)  # -1: unknown
    # ... and the processor passes the consumed record's timestamp through (both engines build
    # InRecord with it: streams/engine.py, streams/ingest.py).
    record = InRecord(b"k", b"garbage", [], "raw", 0, 3, timestamp=1764500000456)
    (out,) = Processor(Settings(), load_border_config(), 4).process(
        [record], datetime(2026, 11, 30, tzinfo=UTC), lambda _plate: None).outputs
    assert out.stream == "dlq"
    assert dict(out.headers or [])["__bordersync.errors.timestamp"] == b"1764500000456"
