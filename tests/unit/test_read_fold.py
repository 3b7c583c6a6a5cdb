"""``validated`` folded into the raw topic's span reader (``streams.logic.dedup.fold``, issue 19):
the reader's tests and canonical text against the general path's oracle, ``validate`` then
``content_digest`` of the decoded record: the same event, digest and refusal, and the event
time in epoch ms ``to_epoch_ms()`` gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import event as event_
from hypothesis import strategies as st

from bordersync.border import load_border_config
from bordersync.events import InvalidEvent, validate
from bordersync.settings import Settings
from bordersync.wire import codec, splicing
from bordersync.wire.avro_fast import EPOCH, MILLI
from bordersync.wire.avro_splice import _read_long, span_reader
from streams.logic.dedup import border_fold, content_digest, fold, validated
from streams.logic.model import Pending, to_epoch_ms
from tests.helpers import crossing, inspection

BORDER = load_border_config(Settings().border_config)
_TEXT = st.one_of(st.sampled_from(["", " ", "\t\n", "MK", "XX", "mk", "MK\n", 'Š"K\\1', "\x01",
                                   "ш", "SK 1234 AB", "MKKJF01", "ALQTH01", "a" * 63, "b" * 64]),
                  st.text(max_size=70))
_VALUES: dict[str, Any] = {
    "str": _TEXT, "int": st.integers(-3, 2**31 - 1),
    "list": st.lists(_TEXT, max_size=3) | st.lists(st.just("A"), min_size=63, max_size=66),
}
_OPTIONAL = {"trailer_plate": "str", "container_ids": "list", "seals": "list",
             "gross_mass_kg": "int", "declaration_ref": "str", "passengers": "int",
             "findings": "str", "seals_applied": "list", "measured_mass_kg": "int"}
_STRINGS = ("event_id", "admin", "post", "plate", "nationality", "terminal_id")


def _outcome(check: Any, doc: dict[str, Any]) -> tuple[Any, ...]:
    try:
        event, digest = check(doc)
        return "ok", list(event.items()), digest
    except InvalidEvent as exc:
        return "refused", str(exc), None


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_the_folded_read_decides_and_digests_as_the_general_path(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["crossing", "inspection"]))
    event = dict(crossing() if kind == "crossing" else inspection())
    # years 1 to 9999: the fold's time text comes from the milliseconds in pieces, floor
    # division and modulo giving the fields before 1970 too
    ms = data.draw(st.integers(-62_135_596_800_000, 253_402_300_799_999)
                   | st.integers(-86_400_000, 2**41))
    event["event_time"] = (datetime(1970, 1, 1, tzinfo=UTC)
                           + timedelta(milliseconds=ms))
    for name, of in _OPTIONAL.items():
        if name in event or (kind == "crossing") == (name in ("trailer_plate", "container_ids",
                                                              "seals", "gross_mass_kg",
                                                              "declaration_ref", "passengers")):
            event.pop(name, None)
            if data.draw(st.booleans()):
                event[name] = data.draw(_VALUES[of])
    for name in data.draw(st.lists(st.sampled_from(_STRINGS), max_size=2)):
        event[name] = data.draw(_TEXT)
    try:
        value = codec.encode("raw", event)
    except ValueError:
        assume(False)
    got = splicing.current().read("raw", value, fold)
    assert got is not None
    decoded = codec.decode("raw", value)
    assert got[0] == decoded
    if got[2] is not None:
        assert got[3] == to_epoch_ms(decoded["event_time"]) and type(got[3]) is int
    folded = _outcome(lambda d: validated(d, BORDER, got[2]),
                      dict(got[0]))
    oracle = _outcome(lambda d: (e := validate(d, BORDER), content_digest(e)), decoded)
    assert folded == oracle
    event_(f"folded {got[2] is not None}, {oracle[0]}")
    # the border's fold (the checks across fields in the read too): its digest, no validated
    by_border = splicing.current().read("raw", value, border_fold(BORDER))
    assert by_border is not None and by_border[:2] == got[:2]
    assert by_border[2] is None or (got[2] is not None and by_border[2:] == got[2:])
    assert _outcome(lambda d: (d, by_border[2]) if by_border[2] is not None
                    else validated(d, BORDER), dict(by_border[0])) == oracle


def test_a_plain_valid_event_is_folded() -> None:
    """The fold is taken (not only its fallback) for the events the bench sends."""
    for event in (validate(crossing(), BORDER), validate(inspection(), BORDER)):
        for folding in (fold, border_fold(BORDER)):
            got = splicing.current().read("raw", codec.encode("raw", event), folding)
            assert got is not None and got[2] is not None
            assert got[2:] == (content_digest(event), to_epoch_ms(event["event_time"]))
    assert border_fold(BORDER) is border_fold(BORDER)  # the same readers for the same border


def test_pending_from_event_sets_every_slot() -> None:
    """``Pending.from_event`` sets the slots itself (no ``__init__``): all of them, as it did."""
    event = validate(crossing(), BORDER) | {"seals": ["S1"], "passengers": 3}
    new = Pending.from_event(event, "c-1", 5000, 7000)
    assert new == Pending(event["event_id"], event["admin"], event["post"], "c-1",
                          event["direction"], 7000, 5000, event["vehicle_type"], None, ["S1"],
                          None, None, 3)
    assert all(hasattr(new, name) for name in Pending.__slots__)
    assert (new.time, new.chunks) == (None, None)


def _zigzag_varint(n: int, padded: bool) -> bytes:
    z, out = (n << 1) ^ (n >> 63), bytearray()
    while True:
        out.append(z & 0x7F | 0x80)
        z >>= 7
        if not z:
            break
    if padded:
        out.append(0)
    else:
        out[-1] &= 0x7F
    return bytes(out)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.integers(-(2**20), 2**20), st.integers(-(2**42), 2**42),
                 st.sampled_from([2**13, -(2**13), 2**20 - 1, 2**34, 2**41 - 1, -(2**41)])),
       st.booleans(), st.sampled_from(["long", "int", {"type": "long",
                                                      "logicalType": "timestamp-millis"}]))
def test_the_unrolled_varint_read_is_the_loops(n: int, padded: bool, kind: Any) -> None:
    """The generated reader's unrolled varints (avro_splice._varint), around three bytes (the
    mass) and six (the event time): the value ``_read_long`` reads, None where padded."""
    reader = span_reader({"type": "record", "name": "R", "fields": [{"name": "x", "type": kind}]})
    assert reader is not None
    data = _zigzag_varint(n, padded)
    got = reader.read(data, 0)
    if padded or (kind == "int" and not -(2**31) <= n < 2**31):
        assert got is None
        return
    want = n if isinstance(kind, str) else EPOCH + MILLI * n
    assert got is not None and got[0]["x"] == want and got[1] == ("R", [0, len(data)])
    assert _read_long(data, 0) == (n, len(data))


def test_a_string_not_ascii_takes_the_exact_read() -> None:
    """The folded read slices its strings from the record decoded as Latin-1; a string that is
    not ASCII (within the fold's text) gives the exact (UTF-8) read's record and digest."""
    for plate in ("ШК 1234 АВ", "SK \x85 1", "Š"):
        event = validate(crossing() | {"plate": plate}, BORDER)
        value = codec.encode("raw", event)
        for folding in (fold, border_fold(BORDER)):
            got = splicing.current().read("raw", value, folding)
            assert got is not None and got[0] == codec.decode("raw", value)
            assert got[0]["plate"] == plate and got[2] == content_digest(event)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 69), st.booleans())
def test_the_inline_enum_read_is_the_readers(index: int, padded: bool) -> None:
    """The generated reader's enum by table (one byte: the index's symbol, else the field's
    reader): past 63 symbols two bytes, padded or out of range None."""
    symbols = [f"S{i}" for i in range(64 if index % 2 else 70)]
    reader = span_reader({"type": "record", "name": "R", "fields": [
        {"name": "x", "type": {"type": "enum", "name": "E", "symbols": symbols}}]})
    assert reader is not None
    data = _zigzag_varint(index, padded)
    got = reader.read(data, 0)
    if padded or index >= len(symbols):
        assert got is None
    else:
        assert got is not None and got[0] == {"x": symbols[index]}
