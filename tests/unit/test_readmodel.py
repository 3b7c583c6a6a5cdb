"""Pure logic of the agency read model: planning writes and deriving the officer's view."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bordersync.border import load_border_config
from consumers.readmodel import AgencyContext, Keys, Rejection, Write, plan
from consumers.runner import lag
from consumers.views import vehicle_view

NOW = 1_795_600_000.0
KEYS = Keys("bs:t:al-customs:")
AL = AgencyContext.of(load_border_config(), "al-customs")
POLICE = AgencyContext.of(load_border_config(), "mk-border-police")


def share(stream: str, record: dict[str, Any], agency: str = "al-customs") -> dict[str, Any]:
    return {"stream": stream, "agency": agency, "shared_at": "2026-11-25T10:00:00.000Z",
            "record": record}


def mk_exit(**kw: Any) -> dict[str, Any]:
    rec = {"event_id": "x1", "kind": "crossing", "admin": "MK", "post": "MKKJF01",
           "event_time": "2026-11-25T09:00:00.000Z", "plate": "SK 1234 AB", "nationality": "MK",
           "terminal_id": "t", "direction": "EXIT", "vehicle_type": "TRUCK", "seals": ["S1"]}
    return {**rec, **kw}


def planned(ctx: AgencyContext, record: dict[str, Any]) -> Write:
    out = plan(record, b"SK1234AB", ctx, KEYS, NOW, 3600)
    assert isinstance(out, Write), out
    return out


def hsets(write: Write) -> dict[tuple[str, str], dict[str, Any]]:
    return {(str(op[1]), str(op[2])): json.loads(str(op[3])) for op in write.ops if op[0] == "hset"}


def test_crossing_from_the_other_side_is_en_route_and_keyed_by_event_id() -> None:
    w = planned(AL, share("crossings", mk_exit()))
    assert w.plate == "SK1234AB" and w.idem == "crossings:x1"
    stored = hsets(w)[(KEYS.crossings("SK1234AB"), "x1")]
    assert stored["crossing"] == "kjafasan-qafe-thane"
    assert ("zadd", KEYS.enroute(), 1795597200.0, "SK1234AB") in w.ops


def test_own_entry_removes_from_en_route_only_if_not_older() -> None:
    entry = mk_exit(event_id="n1", admin="AL", post="ALQTH01", direction="ENTRY",
                    event_time="2026-11-25T09:20:00Z")
    w = planned(AL, share("crossings", entry))
    assert ("zrem_if_le", KEYS.enroute(), "SK1234AB", 1795598400.0) in w.ops


def test_fields_outside_the_agreement_are_never_stored() -> None:
    w = planned(POLICE, share("crossings", {**mk_exit(), "declaration_ref": "MRN1"},
                              agency="mk-border-police"))
    record = hsets(w)[(KEYS.crossings("SK1234AB"), "x1")]["record"]
    assert "seals" not in record and "declaration_ref" not in record and "terminal_id" not in record
    assert set(w.dropped_fields) == {"seals", "declaration_ref", "terminal_id"}


@pytest.mark.parametrize(("record", "reason"), [
    (share("inspections", {"event_id": "i1"}, agency="mk-border-police"), "stream_not_in_agreement"),
    (share("crossings", mk_exit(), agency="mk-customs"), "wrong_agency"),
    (share("weather", {}), "unknown_stream"),
    ({**share("crossings", {}), "record": "nope"}, "bad_record"),
])
def test_rejections_name_a_reason(record: dict[str, Any], reason: str) -> None:
    ctx = POLICE if record["agency"] == "mk-border-police" else AL
    out = plan(record, None, ctx, KEYS, NOW, 3600)
    assert isinstance(out, Rejection) and out.reason == reason


def test_matched_and_alert_idempotency_keys() -> None:
    m = planned(AL, share("matched", {"exit_event_id": "x1", "entry_event_id": "n1",
                                      "plate": "SK1234AB", "entry_admin": "AL",
                                      "inspections": [{"event_id": "i9", "admin": "MK"}]}))
    assert m.idem == "matched:x1|n1"
    assert (KEYS.inspections("SK1234AB"), "i9") in hsets(m)
    a = planned(AL, share("alerts", {"alert_id": "a1", "type": "DISCREPANCY", "plate": "SK1234AB",
                                     "crossing": "kjafasan-qafe-thane", "event_ids": ["x1"]}))
    assert a.idem == "alerts:a1"


def _hash(*writes: Write, kind: str) -> dict[str, str]:
    key = getattr(KEYS, kind)("SK1234AB")
    return {str(op[2]): str(op[3]) for w in writes for op in w.ops if op[0] == "hset" and op[1] == key}


def _view(*writes: Write) -> dict[str, Any]:
    view = vehicle_view(AL, "SK1234AB", *(_hash(*writes, kind=k) for k in
                                          ("crossings", "inspections", "matched", "alerts")))
    assert view is not None
    return view


def test_view_status_journey_inspections_and_late_match_resolving_alert() -> None:
    exit_ = planned(AL, share("crossings", mk_exit()))
    insp = planned(AL, share("inspections", {"event_id": "i1", "admin": "MK", "result": "CLEARED",
                                             "inspection_type": "XRAY",
                                             "event_time": "2026-11-25T08:50:00Z"}))
    alert = planned(AL, share("alerts", {"alert_id": "a1", "type": "UNMATCHED_EXIT",
                                         "event_ids": ["x1"], "crossing": "kjafasan-qafe-thane"}))
    view = _view(exit_, insp, alert)
    assert view["status"] == "en_route"
    assert view["inspections"][0]["recognised"] is True
    assert [a["alert_id"] for a in view["alerts"]] == ["a1"]
    entry = planned(AL, share("crossings", mk_exit(event_id="n1", admin="AL", post="ALQTH01",
                                                   direction="ENTRY",
                                                   event_time="2026-11-25T09:30:00Z")))
    pair = planned(AL, share("matched", {"exit_event_id": "x1", "entry_event_id": "n1",
                                         "entry_admin": "AL", "exit_admin": "MK"}))
    # Arrival order does not matter: the view is derived from records stored by id.
    for order in ((exit_, insp, alert, entry, pair), (pair, entry, alert, insp, exit_)):
        view = _view(*order)
        assert view["status"] == "arrived"
        assert view["latest"]["exit"]["event_id"] == "x1"
        assert view["latest"]["entry"]["event_id"] == "n1"
        assert view["alerts"] == [] and view["resolved_alerts"][0]["alert_id"] == "a1"


def test_unknown_vehicle_has_no_view() -> None:
    assert vehicle_view(AL, "NOPE", {}, {}, {}, {}) is None


def test_unknown_agency_lists_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: mk-customs, al-customs"):
        AgencyContext.of(load_border_config(), "xx-nobody")


@pytest.mark.parametrize(("high", "last", "expected"), [
    (100, 49, 50),   # ordinary lag
    (51, 99, 0),     # a cached watermark older than what we already read
    (-1001, 10, 0),  # no watermark known yet
])
def test_lag_never_trusts_a_watermark_below_the_position(high: int, last: int, expected: int) -> None:
    assert lag(high, last) == expected
