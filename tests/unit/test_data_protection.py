"""Data protection rules of issue #16, each with the defect it closes: the DLQ kept bad records
longer than raw kept good ones; ``matched.inspections`` went to agencies whose agreement grants no
inspection results; INSPECTION_HOLD alerts told such agencies the result anyway."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bordersync.border import load_border_config
from bordersync.catalogue import all_topics
from streams.logic.sharing import NESTED_INSPECTION_FIELDS, ShareRouter, agreed_fields
from tests.helpers import inspection
from tests.unit.streams_support import Harness, at

BORDER = load_border_config()
NOW = datetime(2026, 11, 25, tzinfo=UTC)


def test_dlq_kept_bad_records_longer_than_raw_kept_good_ones() -> None:
    days = {t.stream: t.retention_days for t in all_topics(BORDER)}
    assert days["dlq"] <= days["raw"]


def _sees_results(name: str) -> bool:
    return "result" in BORDER.agency(name).streams.get("inspections", ())


def test_inspection_hold_alert_told_the_result_to_agencies_without_inspection_results() -> None:
    h = Harness()
    out = h.feed(inspection(event_id="hold-1", result="HOLD", event_time=at(0)))
    holds = [r for stream, records in out.items() if stream.startswith("share.")
             for r in records if r["record"].get("type") == "INSPECTION_HOLD"]
    receivers = {r["agency"] for r in holds}
    assert "mk-customs" in receivers  # customs may see results: it still gets the alert
    assert "mk-border-police" not in receivers and not _sees_results("mk-border-police")
    assert all(_sees_results(a) for a in receivers)
    # The alert itself still reaches the alerts topic (the joint operators' view).
    assert [a["type"] for a in out["alerts"]] == ["INSPECTION_HOLD"]


def test_other_alerts_still_reach_every_agency_with_alerts() -> None:
    router = ShareRouter(BORDER)
    crossing = BORDER.crossings[0].id
    record = {"alert_id": "a", "type": "DISCREPANCY", "crossing": crossing, "plate": "P"}
    receivers = {s["agency"] for _, s in router.share("alerts", crossing, record, NOW)}
    assert "mk-border-police" in receivers


def test_nested_matched_inspections_went_to_agencies_without_inspection_results() -> None:
    police = BORDER.agency("mk-border-police")
    # A configuration that lists matched.inspections for an agency with no inspections agreement
    # (an easy mistake) still does not leak them.
    careless = police.model_copy(update={"streams": {**police.streams, "matched": [
        *police.streams["matched"], "inspections"]}})
    assert "inspections" not in agreed_fields(careless, "matched")
    border = BORDER.model_copy(update={"agencies": [
        careless if a.name == police.name else a for a in BORDER.agencies]})
    crossing = next(iter(border.agency_crossings(careless)))
    record: dict[str, Any] = {"exit_event_id": "x", "entry_event_id": "y", "crossing": crossing,
                              "plate": "P", "inspections": [{"result": "SEIZED"}]}
    shares = {s["agency"]: s["record"] for _, s in
              ShareRouter(border).share("matched", crossing, record, NOW)}
    assert "inspections" not in shares[police.name]
    assert shares["mk-customs"]["inspections"] == [{"result": "SEIZED"}]
    for agency in BORDER.agencies:
        if "inspections" in agreed_fields(agency, "matched"):
            assert set(NESTED_INSPECTION_FIELDS) <= set(agency.streams["inspections"])
