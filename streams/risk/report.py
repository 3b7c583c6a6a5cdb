"""Does it work? Inspection outcomes (either side) joined to the assessments: hit rate per channel
and per rule, and the share of traffic in the green lane.

One trip = one PRE_ARRIVAL assessment (the EXIT). Its outcome is the most serious result among
the vehicle's inspections at that crossing within the crossing's window either side of the EXIT
(exit-side controls come before it, entry-side controls after): SEIZED > HOLD > REFERRED >
CLEARED. Hit rate = trips with HOLD or SEIZED / inspected trips. Trips nobody inspected count in
``assessed`` only: selection rates say what was selected, hit rates only what was checked.

Dwell in controls per lane (green = the trip's pre-arrival channel is GREEN), as ``stats`` defines
it (docs/streams.md): at the exit post, EXIT time minus the earliest exit-side control before it;
at the entry post, the latest entry-side control after the ENTRY minus the ENTRY time (the ENTRY
time comes from the entry side's own assessment); within the crossing's window.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SEVERITY = {"CLEARED": 0, "REFERRED": 1, "HOLD": 2, "SEIZED": 3}
POSITIVE = 2  # HOLD or worse


@dataclass
class Row:
    assessed: int = 0
    inspected: int = 0
    positive: int = 0

    def as_dict(self) -> dict[str, Any]:
        rate = self.positive / self.inspected if self.inspected else None
        return {"assessed": self.assessed, "inspected": self.inspected,
                "positive": self.positive, "hit_rate": rate}


@dataclass
class Report:
    channels: dict[str, Row] = field(default_factory=lambda: defaultdict(Row))
    rules: dict[str, Row] = field(default_factory=lambda: defaultdict(Row))
    trips: int = 0
    dwell: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def as_dict(self) -> dict[str, Any]:
        green = self.channels["GREEN"].assessed if "GREEN" in self.channels else 0
        return {"trips": self.trips, "green_lane_share": green / self.trips if self.trips else None,
                "channels": {k: v.as_dict() for k, v in sorted(self.channels.items())},
                "rules": {k: v.as_dict() for k, v in sorted(self.rules.items())},
                "dwell_seconds": {lane: {"count": len(v), "p50": statistics.median(v) if v else None,
                                         "mean": statistics.fmean(v) if v else None}
                                  for lane, v in sorted(self.dwell.items())}}


def _t(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def hit_rates(assessments: Iterable[Mapping[str, Any]], inspections: Iterable[Mapping[str, Any]],
              windows: Mapping[str, float], default_window: float = 7200.0) -> Report:
    by_vehicle: dict[tuple[str, str], list[tuple[float, int, str]]] = defaultdict(list)
    for i in inspections:
        plate = i.get("plate_normalised") or i.get("plate")
        by_vehicle[(str(i.get("crossing")), str(plate))].append(
            (_t(i["event_time"]), SEVERITY.get(str(i.get("result")), 0), str(i.get("admin"))))
    report = Report()
    seen: set[str] = set()
    entries: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
    assessments = list(assessments)
    for a in assessments:
        if a.get("stage") == "ENTRY":
            at = _t(a["event_time"])
            entries[(a["crossing"], a["plate"])].append((at, str(a.get("admin"))))
    for a in assessments:
        if a.get("stage") != "PRE_ARRIVAL" or a["risk_id"] in seen:
            continue
        seen.add(a["risk_id"])  # at-least-once delivery: a re-sent assessment counts once
        report.trips += 1
        window = windows.get(a["crossing"], default_window)
        t = _t(a["event_time"])
        controls = by_vehicle.get((a["crossing"], a["plate"]), [])
        found = [s for ti, s, _ in controls if abs(ti - t) <= window]
        lane = report.dwell["green" if a["channel"] == "GREEN" else "other"]
        before = [t - ti for ti, _, adm in controls
                  if adm == a.get("admin") and 0 <= t - ti <= window]
        if before:
            lane.append(max(before))
        for te, adm in entries.get((a["crossing"], a["plate"]), []):
            if 0 <= te - t <= window:
                after = [ti - te for ti, _, ia in controls if ia == adm and 0 <= ti - te <= window]
                if after:
                    lane.append(max(after))
                break
        rows = [report.channels[a["channel"]],
                *(report.rules[h["profile_id"]] for h in a.get("hits") or [])]
        for row in rows:
            row.assessed += 1
            if found:
                row.inspected += 1
                row.positive += max(found) >= POSITIVE
    return report


def render(report: Report) -> str:
    d = report.as_dict()
    share = d["green_lane_share"]
    dwell = "; ".join(f"{lane} p50 {v['p50']:.0f} s over {v['count']}"
                      for lane, v in d["dwell_seconds"].items() if v["count"])
    lines = [f"trips assessed before arrival: {d['trips']}; green lane: "
             + ("-" if share is None else f"{share:.1%}")
             + (f"; dwell in controls: {dwell}" if dwell else ""),
             f"{'':24} {'assessed':>9} {'inspected':>9} {'positive':>9} {'hit rate':>9}"]
    for title, rows in (("channel", d["channels"]), ("rule", d["rules"])):
        for name, r in rows.items():
            rate = "-" if r["hit_rate"] is None else f"{r['hit_rate']:.1%}"
            lines.append(f"{title + ' ' + name:24} {r['assessed']:>9} {r['inspected']:>9} "
                         f"{r['positive']:>9} {rate:>9}")
    return "\n".join(lines)
