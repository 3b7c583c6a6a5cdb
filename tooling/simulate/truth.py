"""Ground truth: what a correct stream processor must produce from the simulated records.

Computed from the arrival order the way the contract defines it (first copy of an id wins,
earliest-arriving of a physical duplicate wins, one-to-one EXIT/ENTRY pairs).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from bordersync.events import format_time, parse_time
from bordersync.plates import normalise_plate
from streams.rules import FIELD_RULES, expected_alerts
from streams.rules.base import Observed, ObservedPair, OracleView
from tooling.simulate.model import Copy, Observation, Vehicle

TRUTH_FORMAT = "bordersync-sim-truth/1"
# The rule table (streams.rules) says which fields and alerts exist and what each expects.
DISCREPANCY_FIELDS = tuple(r.field for r in FIELD_RULES)


def arrival_order(vehicles: list[Vehicle]) -> list[Copy]:
    copies = [c for v in vehicles for o in _observations(v) for c in o.copies]
    # Python's sort is stable: ties keep generation order, so the result is deterministic.
    return sorted(copies, key=lambda c: c.arrival)


def _observations(v: Vehicle) -> list[Observation]:
    out = list(v.inspections)
    out += [o for o in (v.exit, v.entry) if o is not None]
    return out


def discrepancy_fields(exit_event: dict[str, Any], entry_event: dict[str, Any],
                       tolerance_pct: float) -> list[str]:
    return [r.field for r in FIELD_RULES if r.differs(exit_event, entry_event, tolerance_pct)]


class TruthBuilder:
    def __init__(self, vehicles: list[Vehicle], ordered: list[Copy], tolerance_pct: float) -> None:
        self.vehicles = vehicles
        self.tolerance = tolerance_pct
        self.first: dict[str, tuple[int, dict[str, Any]]] = {}
        for pos, copy in enumerate(ordered):
            self.first.setdefault(copy.event["event_id"], (pos, copy.event))

    def forwarded(self, obs: Observation) -> dict[str, Any]:
        """The record of ``obs`` that the streams forward (first copy of the first-arriving id)."""
        return min((self.first[i] for i in obs.ids), key=lambda t: t[0])[1]

    def build(self) -> dict[str, Any]:
        pairs: list[dict[str, Any]] = []
        view = OracleView([], [], [], [], self.tolerance)
        non_matches: list[dict[str, Any]] = []
        dup: Counter[str] = Counter()
        exact, conflicting, physical = [], [], []
        forwarded = Counter[str]()
        arrived: list[tuple[int, Observed]] = []
        for v in self.vehicles:
            for obs in _observations(v):
                forwarded["inspections" if obs.role.endswith("inspection") else "crossings"] += 1
                fwd = self.forwarded(obs)
                for copy in obs.copies[1:]:
                    dup[copy.kind] += 1
                    if copy.kind == "exact":
                        exact.append(copy.event["event_id"])
                    elif copy.kind == "conflicting":
                        conflicting.append(copy.event["event_id"])
                        view.conflicting.append(_seen(copy.event, v))
                if len(obs.ids) > 1:
                    physical.append({"forwarded": fwd["event_id"],
                                     "dropped": [i for i in obs.ids if i != fwd["event_id"]]})
                arrived.append((self.first[fwd["event_id"]][0], _seen(fwd, v)))
            self._passage(v, pairs, view, non_matches)
        view.forwarded.extend(o for _, o in sorted(arrived, key=lambda t: t[0]))
        alerts = expected_alerts(view)
        return {
            "pairs": pairs, "alerts": alerts, "alert_counts": dict(sorted(Counter(
                a["type"] for a in alerts).items())),
            "duplicates": {"exact": dup["exact"], "conflicting": dup["conflicting"],
                           "physical": sum(len(p["dropped"]) for p in physical)},
            "exact_duplicates": exact, "conflicting_duplicates": conflicting,
            "physical_duplicates": physical, "expected_non_matches": non_matches,
            "forwarded": {"crossings": forwarded["crossings"],
                          "inspections": forwarded["inspections"]},
        }

    def _passage(self, v: Vehicle, pairs: list[dict[str, Any]], view: OracleView,
                 non_matches: list[dict[str, Any]]) -> None:
        exit_ev = self.forwarded(v.exit) if v.exit else None
        entry_ev = self.forwarded(v.entry) if v.entry else None
        if exit_ev and entry_ev and not v.typo:
            fields = discrepancy_fields(exit_ev, entry_ev, self.tolerance)
            inspections = sorted(
                (self.forwarded(o) for o in v.inspections if o.role == "exit_inspection"),
                key=lambda e: parse_time(e["event_time"]),
            )
            pairs.append({
                "exit_event_id": exit_ev["event_id"], "entry_event_id": entry_ev["event_id"],
                "crossing": v.crossing, "plate": normalise_plate(v.plate),
                "discrepancy_fields": fields,
                "exit_inspections": [e["event_id"] for e in inspections],
            })
            view.pairs.append(ObservedPair(exit_ev, entry_ev, v.crossing, normalise_plate(v.plate),
                                           fields))
            return
        if exit_ev and entry_ev:
            non_matches.append({"exit_event_id": exit_ev["event_id"],
                                "entry_event_id": entry_ev["event_id"], "crossing": v.crossing,
                                "exit_plate": exit_ev["plate"], "entry_plate": entry_ev["plate"]})
        if exit_ev:
            view.unpaired.append(_seen(exit_ev, v))
        if entry_ev:
            view.unpaired.append(_seen(entry_ev, v, normalise_plate(entry_ev["plate"])))


def _seen(event: dict[str, Any], v: Vehicle, plate: str | None = None) -> Observed:
    """An event with the crossing and plate its alert names (the vehicle's, unless told)."""
    return Observed(event, v.crossing, plate or normalise_plate(v.plate))


def time_bounds(events: list[dict[str, Any]], window: timedelta,
                grace_seconds: int) -> tuple[str | None, str | None, str | None]:
    """Earliest and latest event time, and when every unmatched alert is due on the wall clock."""
    if not events:
        return None, None, None
    times: list[datetime] = [parse_time(e["event_time"]) for e in events]
    latest = max(times)
    due = latest + window + timedelta(seconds=grace_seconds)
    return format_time(min(times)), format_time(latest), format_time(due)
