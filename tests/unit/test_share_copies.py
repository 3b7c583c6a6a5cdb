"""Regression: sharing one projection with several agencies encodes it once and splices the
agency in; the bytes must equal a full encode for every agency."""

from __future__ import annotations

from datetime import UTC, datetime

from bordersync.border import load_border_config
from bordersync.events import validate
from bordersync.settings import Settings
from bordersync.wire import codec
from streams.processor import InRecord, Processor
from tests.helpers import crossing


def test_copies_equal_full_encodes() -> None:
    record = {"stream": "crossings", "shared_at": datetime(2026, 11, 25, tzinfo=UTC),
              "record": {"event_id": "e1", "plate": "SK1234AB", "passengers": 2}}
    agencies = ["al-customs", "mk-border-police", "xk-customs", "ünïcode-agency"]
    copies = codec.encode_share_copies(record, agencies)
    assert copies == [codec.encode("share", {**record, "agency": a}) for a in agencies]
    assert [codec.decode("share", c)["agency"] for c in copies] == agencies


def test_processor_shares_equal_per_agency_encoding() -> None:
    border = load_border_config()
    event = validate(crossing(), border)
    raw = InRecord(b"SK1234AB", codec.encode("raw", event), [], "raw", 0, 0)
    now = datetime.now(UTC)
    fast = Processor(Settings(), border, 4).process([raw], now, lambda _p: None)
    slow = Processor(Settings(), border, 4, encode=lambda s, r: codec.encode(s, r)).process(
        [raw], now, lambda _p: None)
    shared = [o for o in fast.outputs if o.stream.startswith("share.")]
    assert len(shared) == 4  # MK and AL customs, MK and AL border police
    assert [(o.stream, o.value) for o in fast.outputs] == [(o.stream, o.value) for o in slow.outputs]
