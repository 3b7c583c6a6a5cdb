"""Sharing: each agency gets only its agreed fields, for the crossings it covers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bordersync.border import load_border_config
from streams.logic.sharing import ShareRouter, filter_fields

NOW = datetime(2026, 11, 25, tzinfo=UTC)
BORDER = load_border_config()
ROUTER = ShareRouter(BORDER)
STREAMS = ("crossings", "inspections", "matched", "alerts")

field_names = st.text(min_size=1, max_size=12)
records = st.dictionaries(field_names, st.one_of(st.integers(), st.text(), st.none()), max_size=12)


@given(records, st.lists(field_names, max_size=8))
def test_filter_never_emits_a_field_outside_the_agreement(record: dict[str, Any],
                                                          agreed: list[str]) -> None:
    out = filter_fields(record, agreed)
    assert set(out) <= set(agreed)
    assert all(out[k] == record[k] for k in out)


@given(st.sampled_from(STREAMS), st.sampled_from([c.id for c in BORDER.crossings]),
       records.map(lambda r: {**r, "event_id": "e", "plate": "P", "findings": "x"}))
def test_share_records_hold_only_agreed_fields(stream: str, crossing: str,
                                               record: dict[str, Any]) -> None:
    for topic, shared in ROUTER.share(stream, crossing, record, NOW):
        agency = BORDER.agency(shared["agency"])
        assert topic == f"share.{agency.name}"
        assert crossing in BORDER.agency_crossings(agency)
        assert set(shared["record"]) <= set(agency.streams[stream])
        assert shared["stream"] == stream and shared["shared_at"] == NOW


def test_routes_follow_configuration() -> None:
    kjf = "kjafasan-qafe-thane"
    agencies = {a for a, _ in ROUTER.routes("inspections", kjf)}
    assert agencies == {"mk-customs", "al-customs"}  # police agreements exclude inspections
    assert {a for a, _ in ROUTER.routes("crossings", kjf)} == {
        "mk-customs", "al-customs", "mk-border-police", "al-border-police"}
    assert {a for a, _ in ROUTER.routes("crossings", "tabanovce-presevo")} == {
        "mk-customs", "rs-customs", "mk-border-police"}
    police = dict(ROUTER.routes("alerts", kjf))["mk-border-police"]
    assert "detail" not in police
