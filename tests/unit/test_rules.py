"""The rule table (streams.rules) is the one list of alerts and discrepancy fields: the schema, the
processor, the simulator's ground truth and the docs agree with it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bordersync.wire.schemas import catalogue
from streams.logic import alerts, discrepancies, sharing
from streams.rules import ALERT_RULES, FIELD_RULES, RULES, Trigger, alert_types, at
from streams.rules.docs import stale
from tooling.simulate import simulate
from tooling.simulate.truth import DISCREPANCY_FIELDS

ROOT = Path(__file__).resolve().parents[2]


def _symbols(field_type: Any) -> list[str]:
    t = next(b for b in field_type if b != "null") if isinstance(field_type, list) else field_type
    return list(t["symbols"])


def test_alert_schema_enum_is_the_table() -> None:
    cat = catalogue()
    alert = {f["name"]: f for f in cat.latest("alert").schema["fields"]}
    assert _symbols(alert["type"]["type"]) == list(alert_types())
    union = {f["name"]: f for f in cat.latest("share").schema["fields"]}["record"]["type"]
    shared = {f["name"]: f for f in next(b for b in union if b["name"] == "SharedAlert")["fields"]}
    assert _symbols(shared["type"]["type"]) == list(alert_types())


def test_every_type_and_field_is_registered_once() -> None:
    names = [r.type if hasattr(r, "type") else r.field for r in RULES]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[A-Z][A-Z_]+", r.type) for r in ALERT_RULES)
    assert alert_types() == alerts.TYPES
    assert discrepancies.FIELDS == DISCREPANCY_FIELDS == tuple(r.field for r in FIELD_RULES)
    assert set(sharing.RESULT_ALERTS) <= set(alert_types())
    assert {r for t in Trigger for r in at(t)} == set(ALERT_RULES)
    assert all(r.summary and "\n" not in r.summary for r in RULES)


def test_the_processor_names_no_alert_type() -> None:
    """Alerts come from the table, not from per-type branches in the processor."""
    source = (ROOT / "streams" / "processor.py").read_text()
    assert [t for t in alert_types() if f'"{t}' in source or f"_{t}" in source] == []
    assert "UNMATCHED_{" not in source


def test_docs_tables_are_generated_from_the_table() -> None:
    assert stale(ROOT) == [], "run: python -m streams.rules --write-docs"
    for name in ("docs/metrics.md", "README.md"):  # they point at the generated table
        assert "docs/records.md" in (ROOT / name).read_text()


def test_ground_truth_alerts_come_from_the_table() -> None:
    truth = simulate(3, 400, datetime(2026, 11, 20, tzinfo=UTC)).truth
    assert set(truth["alert_counts"]) <= set(alert_types())
    assert truth["alert_counts"], "the simulation raises alerts"


def test_a_type_added_after_this_reader_reads_as_the_enum_default() -> None:
    """The AlertType default lets today's reader read an alert of a rule added later."""
    import copy
    from io import BytesIO

    from fastavro import parse_schema, schemaless_reader, schemaless_writer

    reader = catalogue().latest("alert").schema
    writer = copy.deepcopy(reader)
    writer["fields"][1]["type"]["symbols"].append("FUTURE_RULE")
    record = {"alert_id": "a" * 32, "type": "FUTURE_RULE", "crossing": None, "plate": None,
              "event_ids": ["e"], "detail": "why", "raised_at": datetime(2026, 11, 30, tzinfo=UTC)}
    body = BytesIO()
    schemaless_writer(body, parse_schema(writer), record)
    body.seek(0)
    got = schemaless_reader(body, parse_schema(writer), parse_schema(reader))
    assert isinstance(got, dict) and (got["type"], got["detail"]) == ("DISCREPANCY", "why")
