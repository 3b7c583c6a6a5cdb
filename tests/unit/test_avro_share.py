"""Share projections stitched from the record's encoded fields (bordersync.wire.avro_share) are the
bytes of a full encode of every projection: codec.encode and fastavro itself."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastavro import schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from bordersync.wire import avro_share, codec
from bordersync.wire.codec import HEADER, SHARE_BRANCHES, Codec
from bordersync.wire.schemas import catalogue
from streams.logic.sharing import filter_fields

_TEXT = st.text(min_size=1, max_size=12)
_TIME = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),  # noqa: DTZ001
                     timezones=st.just(UTC))
_OPTIONAL_LIST = st.none() | st.lists(_TEXT, max_size=3)


def _crossing(d: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {
              "event_id": d(_TEXT), "kind": "crossing", "admin": d(st.sampled_from(["MK", "AL"])),
              "post": d(_TEXT), "event_time": d(_TIME), "plate": d(_TEXT), "nationality": "MK",
              "terminal_id": d(_TEXT), "direction": d(st.sampled_from(["EXIT", "ENTRY"])),
              "vehicle_type": d(st.sampled_from(["TRUCK", "CAR"])), "crossing": d(_TEXT),
              "plate_normalised": d(_TEXT)}
    optional = {"trailer_plate": st.none() | _TEXT, "container_ids": _OPTIONAL_LIST,
                "seals": _OPTIONAL_LIST, "gross_mass_kg": st.none() | st.integers(0, 2**31 - 1),
                "declaration_ref": st.none() | _TEXT, "passengers": st.none() | st.integers(0, 60),
                "priority": st.none() | st.sampled_from(["NONE", "AEO"])}
    for name, values in optional.items():
        if d(st.booleans()):  # absent, or present (possibly as None)
            record[name] = d(values)
    return record


def _matched(d: st.DrawFn) -> dict[str, Any]:
    discrepancy = st.fixed_dictionaries({"field": _TEXT, "exit_value": st.none() | _TEXT,
                                         "entry_value": st.none() | _TEXT})
    inspection = st.fixed_dictionaries(
        {"event_id": _TEXT, "admin": _TEXT, "inspection_type": st.sampled_from(["XRAY", "VET"]),
         "result": st.sampled_from(["HOLD", "CLEARED"]), "event_time": _TIME},
        optional={"findings": st.none() | _TEXT, "seals_applied": _OPTIONAL_LIST,
                  "measured_mass_kg": st.none() | st.integers(0, 99_999)})
    texts = ("exit_event_id", "entry_event_id", "crossing", "plate", "exit_admin", "entry_admin",
             "exit_post", "entry_post")
    record: dict[str, Any] = {name: d(_TEXT) for name in texts}
    record |= {"exit_time": d(_TIME), "entry_time": d(_TIME), "matched_at": d(_TIME),
               "transit_seconds": d(st.floats(allow_nan=False)), "late": d(st.booleans()),
               "discrepancies": d(st.lists(discrepancy, max_size=2)),
               "inspections": d(st.lists(inspection, max_size=2))}
    if d(st.booleans()):
        record["vehicle_type"] = d(st.none() | st.sampled_from(["BUS", "VAN"]))
    return record


def _alert(d: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {
              "alert_id": d(_TEXT), "type": d(st.sampled_from(["DISCREPANCY", "INSPECTION_HOLD"])),
              "event_ids": d(st.lists(_TEXT, max_size=3)), "detail": d(st.text(max_size=80)),
              "raised_at": d(_TIME)}
    for name in ("crossing", "plate"):
        if d(st.booleans()):
            record[name] = d(st.none() | _TEXT)
    return record


_RECORDS = {"crossings": _crossing, "matched": _matched, "alerts": _alert}


def _fastavro_share(projection: dict[str, Any]) -> bytes:
    version = catalogue().latest("share")
    inner = projection["record"]
    datum = {**projection, "fields": list(inner),
             "record": (SHARE_BRANCHES[projection["stream"]], inner)}
    out = io.BytesIO()
    out.write(HEADER.pack(0, version.schema_id))
    schemaless_writer(out, version.parsed, datum)
    return out.getvalue()


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(_RECORDS)), st.data())
def test_projections_equal_full_encodes(stream: str, data: st.DataObject) -> None:
    record = data.draw(st.composite(lambda d: _RECORDS[stream](d))())
    names = [f["name"] for f in catalogue().latest(
        {"crossings": "crossing", "matched": "matched", "alerts": "alert"}[stream]).schema["fields"]]
    agreed = st.lists(st.sampled_from([*names, "not_a_field"]), max_size=len(names) + 2)
    agencies = st.lists(st.sampled_from(["mk-customs", "al-customs", "ünï-agency", "x"]),
                        min_size=1, max_size=3)
    groups = data.draw(st.lists(st.tuples(agreed.map(tuple), agencies), max_size=3))
    now = data.draw(_TIME)
    shared = codec.shared_encoder(stream)
    assert shared is not None
    result = shared.encode(record, groups, now)
    assert result is not None
    value, copies = result
    assert value == codec.encode(stream, record)
    assert len(copies) == len(groups)
    for (fields, agencies_), encoded in zip(groups, copies, strict=True):
        projection = {"stream": stream, "shared_at": now, "record": filter_fields(record, fields)}
        expected = [codec.encode("share", {**projection, "agency": a}) for a in agencies_]
        assert encoded == expected
        assert encoded == [_fastavro_share({**projection, "agency": a}) for a in agencies_]


def test_groups_sharing_their_first_fields() -> None:
    """Groups whose projections start alike share one join of those pieces (``make``'s ``p``):
    a common prefix, a group that agrees to all of another's and more, two identical groups;
    four or more fields in a row first: one separator join (``_lead``), alone or shared."""
    now = datetime(2026, 11, 25, tzinfo=UTC)
    record = {"event_id": "e", "kind": "crossing", "admin": "MK", "post": "p", "event_time": now,
              "plate": "AB1", "nationality": "MK", "terminal_id": "t", "direction": "EXIT",
              "vehicle_type": "TRUCK", "crossing": "c", "plate_normalised": "AB1",
              "seals": ["s"], "gross_mass_kg": 1}
    first = ("event_id", "kind", "admin", "post")
    for groups in ([(first, ["a"])], [(first, ["a"]), ((*first, "seals"), ["b", "c"])],
                   [(first, ["a"]), (first, ["b"]), ((*first, "plate"), ["c"])],
                   [(("plate",), ["a"]), (("plate",), ["b"])]):
        shared = codec.shared_encoder("crossings")
        assert shared is not None
        result = shared.encode(record, groups, now)
        assert result is not None
        for (fields, agencies), encoded in zip(groups, result[1], strict=True):
            projection = {"stream": "crossings", "shared_at": now,
                          "record": filter_fields(record, fields)}
            assert encoded == [_fastavro_share({**projection, "agency": a}) for a in agencies]


def test_record_that_does_not_fit_falls_back() -> None:
    shared = codec.shared_encoder("alerts")
    assert shared is not None
    now = datetime(2026, 11, 25, tzinfo=UTC)
    good = {"alert_id": "a", "type": "DISCREPANCY", "event_ids": [], "detail": "d",
            "raised_at": now}
    assert shared.encode(good, [(("alert_id",), ["x"])], now) is not None
    for bad in ({**good, "type": "NOPE"}, {**good, "extra": 1}, {**good, "event_ids": None},
                {k: v for k, v in good.items() if k != "detail"}):
        assert shared.encode(bad, [(("alert_id",), ["x"])], now) is None
        with pytest.raises(codec.EncodeError):
            codec.encode("alerts", bad)
    naive = datetime(2026, 11, 25)  # noqa: DTZ001 - a naive clock cannot stamp shared_at
    assert shared.encode(good, [(("alert_id",), ["x"])], naive) is None


def test_schemas_that_do_not_line_up_are_refused() -> None:
    cat = catalogue()
    share = cat.latest("share").schema
    crossing = cat.latest("crossing").schema
    head = HEADER.pack(0, 1)
    assert avro_share.build("crossings", head, crossing, head, share,
                            SHARE_BRANCHES["crossings"]) is not None
    retyped = {**crossing, "fields": [{**f, "type": "int"} if f["name"] == "plate" else f
                                      for f in crossing["fields"]]}
    reordered = {**crossing, "fields": crossing["fields"][::-1]}
    shorter = {**crossing, "fields": crossing["fields"][:-1]}
    for schema in (retyped, reordered, shorter):
        assert avro_share.build("crossings", head, schema, head, share,
                                SHARE_BRANCHES["crossings"]) is None
    assert avro_share.build("crossings", head, crossing, head, share, "no.such.Branch") is None


def test_no_shared_encoder_with_a_registry_or_for_unshared_streams() -> None:
    class _Registry:  # never asked: per-subject ids rule the fast path out up front
        pass

    with_registry = Codec(catalogue(), _Registry())  # type: ignore[arg-type]
    assert with_registry.shared_encoder("crossings") is None
    assert codec.shared_encoder("stats") is None
    assert codec.shared_encoder("raw") is None


def test_shared_at_changes_between_batches() -> None:
    shared = codec.shared_encoder("alerts")
    assert shared is not None
    record = {"alert_id": "a", "type": "DISCREPANCY", "event_ids": ["e"], "detail": "d",
              "raised_at": datetime(2026, 11, 25, tzinfo=UTC)}
    for now in (datetime(2026, 11, 25, tzinfo=UTC) + timedelta(seconds=s) for s in (0, 1, 1, 0)):
        result = shared.encode(record, [(("detail", "crossing"), ["x", "y"])], now)
        assert result is not None
        projection = {"stream": "alerts", "shared_at": now, "record": {"detail": "d"}}
        assert result[1] == [[codec.encode("share", {**projection, "agency": a})
                              for a in ("x", "y")]]
