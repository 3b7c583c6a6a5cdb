"""EXIT/ENTRY matching, UNMATCHED alerts, late partners and mutual recognition (pure processor)."""

from __future__ import annotations

from datetime import timedelta

from streams.logic.matching import deadline, find_partner
from streams.logic.model import Pending
from tests.helpers import crossing, inspection
from tests.unit.streams_support import T0, Harness, at

KJF = "kjafasan-qafe-thane"


def exit_(**kw: object) -> dict[str, object]:
    return crossing(**{"event_id": "x1", "event_time": at(0), **kw})


def entry(**kw: object) -> dict[str, object]:
    return crossing(**{"event_id": "n1", "admin": "AL", "post": "ALQTH01", "direction": "ENTRY",
                       "terminal_id": "al-qth-1", "event_time": at(900), **kw})


def pending(eid: str, admin: str, direction: str, t: int, crossing_id: str = KJF) -> Pending:
    """``t``: event time and arrival, epoch ms (the state's unit)."""
    return Pending(eid, admin, "P", crossing_id, direction, t, t, "TRUCK")


def test_exit_then_entry_matches() -> None:
    h = Harness()
    out = h.feed(exit_(), entry())
    (m,) = out["matched"]
    assert (m["exit_event_id"], m["entry_event_id"]) == ("x1", "n1")
    assert m["crossing"] == KJF and m["plate"] == "SK1234AB"
    assert (m["exit_admin"], m["entry_admin"]) == ("MK", "AL")
    assert m["transit_seconds"] == 900.0 and m["late"] is False and m["discrepancies"] == []
    assert not any(v.pending for v in map(_decode, h.store.values()))


def test_entry_first_then_exit_and_plate_spelling() -> None:
    h = Harness()
    out = h.feed(entry(plate="sk-1234-ab"), exit_(plate="ЅК 1234 АВ"))
    (m,) = out["matched"]
    assert (m["exit_event_id"], m["entry_event_id"]) == ("x1", "n1")


def test_outside_window_same_side_or_other_crossing_do_not_match() -> None:
    h = Harness()
    out = h.feed(exit_(), entry(event_id="late", event_time=at(121 * 60)),
                 crossing(event_id="same-side", direction="ENTRY", event_time=at(60)),
                 crossing(event_id="tab", admin="RS", post="RSPRE01", direction="ENTRY",
                          event_time=at(60)))
    assert "matched" not in out


def test_one_to_one() -> None:
    h = Harness()
    out = h.feed(exit_(), entry(), entry(event_id="n2", event_time=at(1000), terminal_id="t9"))
    assert [(m["exit_event_id"], m["entry_event_id"]) for m in out["matched"]] == [("x1", "n1")]


def test_prefers_non_negative_then_closest() -> None:
    candidates = [pending("e-early", "AL", "ENTRY", -100_000),
                  pending("e-far", "AL", "ENTRY", 3_000_000), pending("e-near", "AL", "ENTRY", 200_000)]
    assert find_partner(candidates, pending("x", "MK", "EXIT", 0), 7_200_000) == 2
    assert find_partner(candidates[:1], pending("x", "MK", "EXIT", 0), 7_200_000) == 0


def test_unmatched_after_window_plus_grace_then_late_match() -> None:
    h = Harness(grace_seconds=300)
    h.now = T0 + timedelta(seconds=10)
    h.feed(exit_())
    h.now = T0 + timedelta(minutes=120, seconds=299)
    assert "alerts" not in h.sweep()
    h.now = T0 + timedelta(minutes=125, seconds=1)
    (a,) = h.sweep()["alerts"]
    assert a["type"] == "UNMATCHED_EXIT" and a["event_ids"] == ["x1"] and a["crossing"] == KJF
    assert "alerts" not in h.sweep()  # raised once
    out = h.feed(entry(event_time=at(110 * 60)))
    (m,) = out["matched"]
    assert m["late"] is True
    assert h.counts("unmatched") == {(KJF, "EXIT"): 1}


def test_backlog_event_gets_grace_from_arrival() -> None:
    p = pending("x", "MK", "EXIT", 0)
    p.arrived = 86_400_000  # a day after its event time (ms)
    assert deadline(p, 7_200_000, 300_000) == 86_700_000


def test_discrepancies_alert_and_exit_inspections_attached() -> None:
    h = Harness()
    out = h.feed(
        inspection(event_id="i-mk", event_time=at(-600), result="HOLD", findings="seal check"),
        inspection(event_id="i-al", admin="AL", post="ALQTH01", event_time=at(-300)),
        exit_(gross_mass_kg=20000, seals=["S1", "S2"]),
        entry(gross_mass_kg=21000, seals=["S2", "S1"]),
    )
    (m,) = out["matched"]
    assert [d["field"] for d in m["discrepancies"]] == ["gross_mass_kg"]
    assert m["discrepancies"][0] == {"field": "gross_mass_kg", "exit_value": "20000",
                                     "entry_value": "21000"}
    assert [i["event_id"] for i in m["inspections"]] == ["i-mk"]
    assert m["inspections"][0]["result"] == "HOLD"
    types = sorted(a["type"] for a in out["alerts"])
    assert types == ["DISCREPANCY", "INSPECTION_HOLD"]


def test_inspection_shared_with_entry_side_before_the_vehicle_arrives() -> None:
    h = Harness()
    out = h.feed(inspection(event_id="i-mk", result="CLEARED"))
    shared = out["share.al-customs"]
    assert shared[0]["stream"] == "inspections" and shared[0]["record"]["event_id"] == "i-mk"
    assert "share.al-border-police" not in out  # police do not receive inspections


def test_bad_records_go_to_dlq_and_the_rest_flows() -> None:
    h = Harness()
    good = h.record(exit_())
    bad = h.record(b"\xff not an event", key=b"K")
    invalid = h.record(crossing(event_id="bad", admin="AL"))  # MKKJF01 is not an AL post
    out = h.run([bad, invalid, good])
    assert len(out["crossings"]) == 1
    stages = [dict(o.headers)["dlq.stage"] for o in out["dlq"]]
    assert stages == [b"decode", b"validate"]
    letter = out["dlq"][0]
    assert letter.value == b"\xff not an event" and letter.key == b"K"
    headers = dict(letter.headers)
    assert headers["h"] == b"v" and headers["dlq.source.topic"] == b"raw"
    assert headers["dlq.source.offset"] == str(bad.offset).encode()
    assert b"'bad'" in dict(out["dlq"][1].headers)["dlq.error"]


def test_foreign_key_is_rekeyed_to_the_vehicle_partition() -> None:
    from streams.processor import partition_for

    h = Harness()
    rec = h.record(exit_(), key=b"some-other-key")
    if partition_for(b"some-other-key", 4) == partition_for(b"SK1234AB", 4):
        rec = h.record(exit_(), key=b"zzz")
    out = h.run([rec])
    (rekeyed,) = out["raw"]
    assert rekeyed.key == b"SK1234AB" and rekeyed.partition == partition_for(b"SK1234AB", 4)
    assert "crossings" not in out


def _decode(value: bytes) -> object:
    from streams.logic.model import VehicleState

    return VehicleState.decode(value)


def test_output_that_does_not_fit_its_schema_dead_letters_the_input_without_its_effects() -> None:
    from tests.unit.streams_support import _json

    def broken_matched(stream: str, record: dict[str, object]) -> bytes:
        if stream == "matched":
            raise ValueError("matched record does not fit matched v1")
        return _json(stream, record)

    h = Harness()
    good_encode = h.processor.encode
    h.processor.encode = broken_matched
    out = h.feed(exit_(), entry())
    assert [r["event_id"] for r in out["crossings"]] == ["x1"]  # the entry's outputs are undone
    (letter,) = out["dlq"]
    headers = dict(letter.headers)
    assert headers["dlq.stage"] == b"encode" and b"does not fit" in headers["dlq.error"]
    h.processor.encode = good_encode  # the fix is deployed; the dead letter is replayed
    replayed = h.run([h.record(entry())])
    (m,) = replayed["matched"]
    assert (m["exit_event_id"], m["entry_event_id"]) == ("x1", "n1")
