"""Every alert and discrepancy rule, registered once in ``RULES``.

A rule is one module with a pure function (what the processor asks) and the simulator oracle's
expectation (what the ground truth says a correct processor raises). From this table come: the
alert types the processor raises and in which order, the ``AlertType`` symbols the alert schema
must carry, the simulator's expected alerts and discrepancy fields, and the rule tables of
docs/records.md and docs/streams.md (``python -m streams.rules --write-docs``); unit tests
(tests/unit/test_rules.py) fail when any of them disagrees with the table.

A rule's ``check`` receives a ``Context`` (streams.rules.base) whose ``event`` is a typed, frozen
value, ``CrossingEvent`` or ``InspectionEvent`` (streams.logic.events), never the validated dict:
read attributes (``ctx.event.plate``), times as ``event_time_ms`` (integer milliseconds since the
epoch, UTC; ``streams.logic.events.time_text`` for an alert's text). Its ``expect`` reads the
simulator's events, which are dicts (the ground truth).

Adding a rule: write ``streams/rules/<name>.py``, add one line below, add its symbol to a new
alert schema version (docs/schemas.md), regenerate the docs.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from streams.logic.model import Pending
from streams.rules import (
    conflicting_duplicate,
    container_ids,
    discrepancy,
    gross_mass,
    impossible_transit,
    inspection_hold,
    passengers,
    seals,
    trailer_plate,
    unmatched,
)
from streams.rules.base import AlertRule, Context, FieldRule, Finding, OracleView, Trigger

__all__ = [
    "ALERT_RULES",
    "CROSSING_RULES",
    "FIELD_RULES",
    "ON_CLEAN_PAIRS",
    "ON_FIRST_EVENT",
    "RULES",
    "AlertRule",
    "Context",
    "FieldRule",
    "Finding",
    "OracleView",
    "Trigger",
    "alert_types",
    "at",
    "expected_alerts",
    "find_discrepancies",
]

# Order matters: field rules list discrepancies in this order; alert rules of one trigger are
# asked in this order, which is the order of their alerts on the topic.
RULES: tuple[AlertRule | FieldRule, ...] = (
    FieldRule(gross_mass.FIELD, gross_mass.SUMMARY, gross_mass.compare, gross_mass.differs),
    FieldRule(seals.FIELD, seals.SUMMARY, seals.compare, seals.differs),
    FieldRule(trailer_plate.FIELD, trailer_plate.SUMMARY, trailer_plate.compare,
              trailer_plate.differs),
    FieldRule(container_ids.FIELD, container_ids.SUMMARY, container_ids.compare,
              container_ids.differs),
    FieldRule(passengers.FIELD, passengers.SUMMARY, passengers.compare, passengers.differs),
    AlertRule(discrepancy.TYPE, Trigger.MATCHED, discrepancy.SUMMARY, discrepancy.check,
              discrepancy.expect, needs_discrepancies=True),
    AlertRule("UNMATCHED_EXIT", Trigger.DEADLINE, unmatched.SUMMARY["EXIT"],
              unmatched.check_for("EXIT"), unmatched.expect_for("EXIT")),
    AlertRule("UNMATCHED_ENTRY", Trigger.DEADLINE, unmatched.SUMMARY["ENTRY"],
              unmatched.check_for("ENTRY"), unmatched.expect_for("ENTRY")),
    AlertRule(conflicting_duplicate.TYPE, Trigger.DUPLICATE, conflicting_duplicate.SUMMARY,
              conflicting_duplicate.check, conflicting_duplicate.expect),
    AlertRule(inspection_hold.TYPE, Trigger.INSPECTION, inspection_hold.SUMMARY,
              inspection_hold.check, inspection_hold.expect),
    AlertRule(impossible_transit.TYPE, Trigger.CROSSING, impossible_transit.SUMMARY,
              impossible_transit.check, impossible_transit.expect, needs_earlier_event=True),
)

ALERT_RULES: tuple[AlertRule, ...] = tuple(r for r in RULES if isinstance(r, AlertRule))
FIELD_RULES: tuple[FieldRule, ...] = tuple(r for r in RULES if isinstance(r, FieldRule))
_AT: dict[Trigger, tuple[AlertRule, ...]] = {
    t: tuple(r for r in ALERT_RULES if r.trigger is t) for t in Trigger}
# The MATCHED rules that can fire on a pair without discrepancies: when there are none (as now),
# the processor asks no rule about such a pair, the common one.
ON_CLEAN_PAIRS: tuple[AlertRule, ...] = tuple(
    r for r in _AT[Trigger.MATCHED] if not r.needs_discrepancies)
# The rules asked about every forwarded crossing, by name: a Trigger member looked up costs
# ~0.1 µs on Python 3.11 (EnumType's __getattr__ takes every class attribute the slow way).
CROSSING_RULES: tuple[AlertRule, ...] = _AT[Trigger.CROSSING]
# The CROSSING rules that can fire on a vehicle's first event (its state remembers no other):
# when there are none (as now), the processor asks no rule about it.
ON_FIRST_EVENT: tuple[AlertRule, ...] = tuple(
    r for r in _AT[Trigger.CROSSING] if not r.needs_earlier_event)
# Every field rule's values on a side, as one tuple in one C call: a field rule's field is the
# ``Pending`` attribute it compares (FieldRule.compare: equal values agree)
_FIELD_VALUES = attrgetter(*(r.field for r in FIELD_RULES))


def alert_types() -> tuple[str, ...]:
    """Every alert type, in table order (the alert schema's enum symbols, same order)."""
    return tuple(r.type for r in ALERT_RULES)


def at(trigger: Trigger) -> tuple[AlertRule, ...]:
    """The rules the processor asks when ``trigger`` fires (built once, no per-record filtering)."""
    return _AT[trigger]


def find_discrepancies(exit_: Pending, entry: Pending,
                       tolerance_pct: float) -> list[dict[str, Any]]:
    """``matched.discrepancies``: one ``{field, exit_value, entry_value}`` per field rule that
    finds the sides disagree, values as strings or null."""
    out: list[dict[str, Any]] = []
    # Sides that recorded the same values (the common pair) agree on every field: no rule asked.
    # Not under a negative tolerance, with which gross_mass finds equal weights differing.
    if tolerance_pct >= 0 and _FIELD_VALUES(exit_) == _FIELD_VALUES(entry):
        return out
    for rule in FIELD_RULES:
        found = rule.compare(exit_, entry, tolerance_pct)
        if found is not None:
            a, b = found
            out.append({"field": rule.field, "exit_value": None if a is None else str(a),
                        "entry_value": None if b is None else str(b)})
    return out


def expected_alerts(view: OracleView) -> list[dict[str, Any]]:
    """The simulator's ground truth: every alert a correct processor raises, rule by rule."""
    return [a for rule in ALERT_RULES for a in rule.expect(view)]
