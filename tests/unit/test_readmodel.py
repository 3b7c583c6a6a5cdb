"""Pure logic of the agency read model: planning writes and deriving the officer's view."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bordersync.border import load_border_config
from consumers.readmodel import AgencyContext, Keys, Rejection, Write, plan
from consumers.runner import lag
from consumers.views import enroute_row, vehicle_view

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
                                          ("crossings", "inspections", "matched", "alerts",
                                           "risk")))
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


def assessment(risk_id: str, stage: str, event_id: str, at: str, channel: str,
               admin: str = "MK", **kw: Any) -> Write:
    hits = [{"profile_id": "watch", "profile_version": 2, "owner": "MK", "rule": "watchlist",
             "channel": "RED", "weight": 100, "reason": "trailer on the MK watchlist"}]
    rec = {"risk_id": risk_id, "stage": stage, "crossing": "kjafasan-qafe-thane",
           "plate": "SK1234AB", "event_id": event_id, "admin": admin, "assessed_for": "AL",
           "event_time": at, "channel": channel, "score": 100 if channel == "RED" else 0,
           "green_lane": channel == "GREEN", "operator": None,
           "summary": f"{channel.lower()} {risk_id}", "hits": hits if channel == "RED" else [],
           "profile_versions": ["watch@2"], "expected_arrival": None,
           "assessed_at": at, **kw}
    return planned(AL, share("risk", rec))


def test_view_shows_the_latest_journeys_pre_arrival_and_entry_assessments() -> None:
    old_pre = assessment("r0", "PRE_ARRIVAL", "x0", "2026-11-20T09:00:00Z", "GREEN",
                         green_lane=True, operator="OP-1")
    old_entry = assessment("r0n", "ENTRY", "n0", "2026-11-20T09:20:00Z", "STANDARD", admin="AL")
    exit_ = planned(AL, share("crossings", mk_exit()))
    pre = assessment("r1", "PRE_ARRIVAL", "x1", "2026-11-25T09:00:00.000Z", "RED",
                     expected_arrival="2026-11-25T09:10:00.000Z")
    # The pre-arrival assessment reaches the entry side before the vehicle: it is en route.
    view = _view(old_pre, old_entry, exit_, pre)
    assert view["status"] == "en_route"
    (row,) = view["risk"]
    assert (row["risk_id"], row["channel"], row["perspective"], row["en_route"]) == (
        "r1", "RED", "pre_arrival_from_other_side", True)
    assert row["expected_arrival"] == "2026-11-25T09:10:00.000Z"
    assert row["hits"][0]["reason"] == "trailer on the MK watchlist"
    assert enroute_row(view)["risk_channel"] == "RED"
    # Arrived: our own assessment at entry follows the other side's pre-arrival one; the
    # previous journey's assessments are not shown, whatever the order of arrival.
    entry = planned(AL, share("crossings", mk_exit(event_id="n1", admin="AL", post="ALQTH01",
                                                   direction="ENTRY",
                                                   event_time="2026-11-25T09:12:00Z")))
    at_entry = assessment("r2", "ENTRY", "n1", "2026-11-25T09:12:00Z", "YELLOW", admin="AL")
    for order in ((old_pre, old_entry, exit_, pre, entry, at_entry),
                  (at_entry, entry, pre, exit_, old_entry, old_pre)):
        view = _view(*order)
        assert view["status"] == "arrived"
        assert [(r["risk_id"], r["perspective"], r["en_route"]) for r in view["risk"]] == [
            ("r1", "pre_arrival_from_other_side", False), ("r2", "own_at_entry", False)]
    # The vehicle goes back: our exit's pre-arrival assessment, made for the other side.
    back = assessment("r3", "PRE_ARRIVAL", "x2", "2026-11-26T08:00:00Z", "GREEN", admin="AL",
                      assessed_for="MK", green_lane=True, operator="OP-1")
    (row,) = _view(old_pre, exit_, pre, entry, at_entry, back)["risk"]
    assert (row["risk_id"], row["perspective"], row["operator"]) == (
        "r3", "pre_arrival_by_our_side", "OP-1")


def test_a_vehicle_known_only_by_its_assessment_has_a_view() -> None:
    view = _view(assessment("r1", "PRE_ARRIVAL", "x1", "2026-11-25T09:00:00Z", "RED"))
    assert view["status"] == "unknown" and view["journey"] == []
    assert [r["risk_id"] for r in view["risk"]] == ["r1"]
    assert vehicle_view(AL, "SK1234AB", {}, {}, {}, {}) is None


def test_lookup_text_prints_the_channel_line_and_every_reason() -> None:
    from consumers.commands import render_text

    pre = assessment("r1", "PRE_ARRIVAL", "x1", "2026-11-25T09:00:00.000Z", "RED",
                     expected_arrival="2026-11-25T09:10:00.000Z")
    text = render_text(_view(planned(AL, share("crossings", mk_exit())), pre))
    assert ("risk: RED  score 100  (pre-arrival assessment by MK, kjafasan-qafe-thane)  red r1"
            "  expected 2026-11-25T09:10:00.000Z") in text
    assert "  - trailer on the MK watchlist  [watch@2, owner MK]" in text


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
