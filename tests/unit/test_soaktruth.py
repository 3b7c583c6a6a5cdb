"""The soak's truth per agency (tooling/soak/truth.py): what each agency must hold by its
agreement, and how a share topic or read model that differs from it is counted."""

from __future__ import annotations

from typing import Any

from bordersync.border import load_border_config
from tooling.soak.truth import Holding, agreements, compare, complete, expected

BORDER = load_border_config()
AGENCIES = ("al-customs", "mk-border-police", "rs-customs")
EVENTS = [
    {"event_id": "x1", "kind": "crossing", "post": "MKKJF01"},
    {"event_id": "n1", "kind": "crossing", "post": "ALQTH01"},
    {"event_id": "i1", "kind": "inspection", "post": "MKKJF01"},
    {"event_id": "x2", "kind": "crossing", "post": "MKTAB01"},
    {"event_id": "x2b", "kind": "crossing", "post": "MKTAB01"},  # dropped physical duplicate
]
TRUTH: dict[str, Any] = {
    "pairs": [{"exit_event_id": "x1", "entry_event_id": "n1", "crossing": "kjafasan-qafe-thane"}],
    "alerts": [{"type": "UNMATCHED_EXIT", "event_ids": ["x2"], "crossing": "tabanovce-presevo"},
               {"type": "INSPECTION_HOLD", "event_ids": ["i1"], "crossing": "kjafasan-qafe-thane"}],
    "physical_duplicates": [{"forwarded": "x2", "dropped": ["x2b"]}],
}
ACCEPTED = {"x1", "n1", "i1", "x2", "x2b"}


def _want() -> dict[str, dict[str, set[tuple[str, ...]]]]:
    return expected(EVENTS, TRUTH, ACCEPTED, BORDER, AGENCIES)


def test_each_agency_expects_its_crossings_and_streams_only() -> None:
    want = _want()
    assert want["al-customs"]["crossings"] == {("x1",), ("n1",)}
    assert want["al-customs"]["inspections"] == {("i1",)}
    assert want["al-customs"]["matched"] == {("x1", "n1")}
    # Tabanovce is not an Albanian crossing; a HOLD alert tells a result: customs only.
    assert want["al-customs"]["alerts"] == {("INSPECTION_HOLD", "i1")}
    assert want["mk-border-police"]["alerts"] == {("UNMATCHED_EXIT", "x2")}
    assert want["mk-border-police"]["inspections"] == set()  # not in its agreement
    assert want["mk-border-police"]["crossings"] == {("x1",), ("n1",), ("x2",)}
    assert want["rs-customs"]["alerts"] == {("UNMATCHED_EXIT", "x2")}
    assert want["rs-customs"]["crossings"] == {("x2",)}


def _holding_of(want: dict[str, set[tuple[str, ...]]], agency: str) -> Holding:
    holding = Holding()
    _, fields = agreements(BORDER, [agency])[agency]
    for stream, keys in want.items():
        for key in keys:
            record: dict[str, Any]
            if stream == "matched":
                record = {"exit_event_id": key[0], "entry_event_id": key[1]}
            elif stream == "alerts":
                record = {"type": key[0], "event_ids": list(key[1:])}
            else:
                record = {"event_id": key[0]}
            holding.add(stream, record, fields.get(stream))
    return holding


def test_a_faithful_copy_is_complete_and_right() -> None:
    want = _want()
    got = {a: _holding_of(want[a], a) for a in AGENCIES}
    assert complete(want, got)
    assert compare(want, got, TRUTH)["wrong"] == 0


def test_missing_extra_leaked_and_foreign_records_are_wrong() -> None:
    want = _want()
    got = {a: _holding_of(want[a], a) for a in AGENCIES}
    got["al-customs"].keys["crossings"].discard(("n1",))  # missing
    got["rs-customs"].add("crossings", {"event_id": "zz"}, frozenset({"event_id"}))  # extra
    got["mk-border-police"].add("crossings", {"event_id": "x1", "findings": "x"},
                                frozenset({"event_id"}))  # a field outside the agreement
    got["mk-border-police"].add("inspections", {"event_id": "i1"}, None)  # not its stream
    assert not complete(want, got)
    result = compare(want, got, TRUTH)
    assert result["wrong"] == 4
    assert result["detail"]["al-customs"]["crossings"]["missing"] == 1
    assert result["detail"]["mk-border-police"]["leaked_fields"] == ["crossings.findings"]


def test_unmatched_alert_of_a_paired_event_is_an_artefact() -> None:
    want = _want()
    got = {a: _holding_of(want[a], a) for a in AGENCIES}
    got["al-customs"].add("alerts", {"type": "UNMATCHED_EXIT", "event_ids": ["x1"]},
                          frozenset({"type", "event_ids"}))
    result = compare(want, got, TRUTH)
    assert result["wrong"] == 0 and result["artefacts"] == 1
