"""Hit rates per channel and rule from assessments joined to inspection outcomes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from streams.risk.report import hit_rates, render
from tests.unit.risk_support import T0

X = "kjafasan-qafe-thane"


def _a(plate: str, channel: str, *rules: str, stage: str = "PRE_ARRIVAL") -> dict[str, Any]:
    return {"risk_id": f"{plate}-{stage}", "stage": stage, "crossing": X, "plate": plate,
            "event_time": T0, "channel": channel, "hits": [{"profile_id": r} for r in rules]}


def _i(plate: str, result: str, minutes: float) -> dict[str, Any]:
    return {"crossing": X, "plate_normalised": plate, "result": result,
            "event_time": T0 + timedelta(minutes=minutes)}


def test_hit_rate_per_channel_and_rule() -> None:
    assessments = [_a("A", "RED", "unsealed"), _a("B", "RED", "unsealed", "watch"),
                   _a("C", "GREEN"), _a("D", "STANDARD"), _a("E", "YELLOW", "heavy"),
                   _a("A", "RED", "unsealed"),  # re-delivered: counted once
                   _a("A", "RED", stage="ENTRY")]  # entry-side assessments are not trips
    inspections = [_i("A", "CLEARED", -20), _i("A", "SEIZED", 15),  # worst of both sides
                   _i("B", "CLEARED", 10), _i("D", "HOLD", 30),
                   _i("E", "SEIZED", 60 * 24)]  # another day: not this trip
    report = hit_rates(assessments, inspections, {X: 7200.0}).as_dict()
    assert report["trips"] == 5 and report["green_lane_share"] == 0.2
    assert report["channels"]["RED"] == {"assessed": 2, "inspected": 2, "positive": 1,
                                         "hit_rate": 0.5}
    assert report["channels"]["STANDARD"]["hit_rate"] == 1.0
    assert report["channels"]["YELLOW"] == {"assessed": 1, "inspected": 0, "positive": 0,
                                            "hit_rate": None}
    assert report["rules"]["unsealed"]["hit_rate"] == 0.5
    assert report["rules"]["watch"]["hit_rate"] == 0.0
    text = render(hit_rates(assessments, inspections, {X: 7200.0}))
    assert "green lane: 20.0%" in text and "rule unsealed" in text


def test_dwell_in_controls_per_lane() -> None:
    exit_ = {**_a("G", "GREEN"), "admin": "MK"}
    entry = {**_a("G", "GREEN", stage="ENTRY"), "admin": "AL",
             "event_time": T0 + timedelta(minutes=10)}
    other = {**_a("O", "RED"), "admin": "MK"}
    controls = [{**_i("G", "CLEARED", -5), "admin": "MK"},     # 300 s before the exit
                {**_i("G", "CLEARED", 12), "admin": "AL"},     # 120 s after the entry
                {**_i("O", "CLEARED", -30), "admin": "MK"},
                {**_i("O", "CLEARED", -10), "admin": "MK"}]    # earliest one counts: 1800 s
    dwell = hit_rates([exit_, entry, other], controls, {X: 7200.0}).as_dict()["dwell_seconds"]
    assert dwell["green"] == {"count": 2, "p50": 210.0, "mean": 210.0}
    assert dwell["other"]["p50"] == 1800.0
