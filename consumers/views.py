"""The read model of one agency, read side: what an officer sees about a vehicle (pure logic).

Everything here is derived at read time from records stored by id, so the answer does not depend
on the order in which records arrived or how often they were delivered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from consumers.readmodel import AgencyContext, epoch

JOURNEY_LIMIT = 20
# Risk assessments (docs/risk.md): the channels an officer acts on, most serious last.
RISK_CHANNELS = ("GREEN", "STANDARD", "YELLOW", "RED")
PRE_ARRIVAL, AT_ENTRY = "PRE_ARRIVAL", "ENTRY"
# A late match resolves the "no partner" alert it answers.
RESOLVED_BY_MATCH = ("UNMATCHED_EXIT", "UNMATCHED_ENTRY")


def _load(values: Iterable[str]) -> list[dict[str, Any]]:
    out = []
    for raw in values:
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("record"), dict):
            out.append(value)
    return out


def _sort_key(entry: Mapping[str, Any], time_field: str) -> tuple[float, str]:
    rec = entry["record"]
    at = epoch(rec.get(time_field)) or epoch(entry.get("shared_at")) or 0.0
    return at, str(rec.get("event_id") or rec.get("alert_id") or "")


def vehicle_view(
    ctx: AgencyContext,
    plate: str,
    crossings: Mapping[str, str],
    inspections: Mapping[str, str],
    matched: Mapping[str, str],
    alerts: Mapping[str, str],
    risk: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """The officer's view of one vehicle, or None when the read model knows nothing of it."""
    risk = risk or {}
    if not (crossings or inspections or matched or alerts or risk):
        return None
    steps = sorted(_load(crossings.values()), key=lambda e: _sort_key(e, "event_time"))
    pairs = sorted(_load(matched.values()), key=lambda e: _sort_key(e, "exit_time"))
    journey = [{**e["record"], "crossing": e.get("crossing")} for e in steps][-JOURNEY_LIMIT:]
    latest_exit = next((s for s in reversed(journey) if s.get("direction") == "EXIT"), None)
    latest_entry = next((s for s in reversed(journey) if s.get("direction") == "ENTRY"), None)
    latest_pair = pairs[-1]["record"] if pairs else None
    paired_ids = {str(p["record"].get(k)) for p in pairs for k in ("exit_event_id", "entry_event_id")}
    insp = [
        {**e["record"], "via": e["stream"], "recognised": e["record"].get("admin") != ctx.admin}
        for e in sorted(_load(inspections.values()), key=lambda e: _sort_key(e, "event_time"))
    ]
    alert_rows = []
    for e in sorted(_load(alerts.values()), key=lambda e: _sort_key(e, "raised_at")):
        rec = e["record"]
        resolved = rec.get("type") in RESOLVED_BY_MATCH and bool(
            paired_ids & {str(i) for i in rec.get("event_ids") or []})
        alert_rows.append({**rec, "open": not resolved})
    status = _status(ctx, journey, latest_pair)
    return {
        "plate": plate,
        "agency": ctx.name,
        "status": status,
        "crossing": (journey[-1]["crossing"] if journey
                     else latest_pair.get("crossing") if latest_pair else None),
        "latest": {"exit": latest_exit, "entry": latest_entry, "matched": latest_pair},
        "journey": journey,
        "inspections": insp,
        "alerts": [a for a in alert_rows if a["open"]],
        "resolved_alerts": [a for a in alert_rows if not a["open"]],
        "risk": risk_rows(ctx, risk.values(), pairs, latest_exit if status == "en_route" else None),
    }


def _perspective(ctx: AgencyContext, rec: Mapping[str, Any]) -> str:
    """Whose assessment this is, seen from ``ctx``'s side."""
    ours = rec.get("admin") == ctx.admin
    if rec.get("stage") == PRE_ARRIVAL:
        return "pre_arrival_by_our_side" if ours else "pre_arrival_from_other_side"
    return "own_at_entry" if ours else "other_side_at_entry"


def _risk_row(ctx: AgencyContext, rec: Mapping[str, Any],
              en_route_exit: Mapping[str, Any] | None) -> dict[str, Any]:
    # The vehicle exited the other side and this is the assessment of that EXIT: the officers
    # here are waiting for it, and ``expected_arrival`` says until when.
    waiting = (en_route_exit is not None and rec.get("stage") == PRE_ARRIVAL
               and rec.get("event_id") == en_route_exit.get("event_id"))
    return {**rec, "perspective": _perspective(ctx, rec), "en_route": waiting}


def risk_rows(ctx: AgencyContext, values: Iterable[str], pairs: list[dict[str, Any]],
              en_route_exit: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The latest journey's risk assessments per crossing, newest crossing first.

    Per crossing: the latest assessment; when it is an ENTRY assessment, preceded by the
    pre-arrival assessment of the same journey (the EXIT paired with that ENTRY, else the latest
    pre-arrival by the other side since the previous ENTRY assessment). Older journeys'
    assessments are not shown.
    """
    by_crossing: dict[str, list[Mapping[str, Any]]] = {}
    for e in sorted(_load(values), key=lambda e: _risk_key(e["record"])):
        by_crossing.setdefault(str(e["record"].get("crossing") or ""), []).append(e["record"])
    exit_of = {str(p["record"].get("entry_event_id")): str(p["record"].get("exit_event_id"))
               for p in pairs}
    journeys: list[list[Mapping[str, Any]]] = []
    for recs in by_crossing.values():
        latest, before = recs[-1], recs[:-1]
        pre: Mapping[str, Any] | None = None
        if latest.get("stage") != PRE_ARRIVAL:
            paired = exit_of.get(str(latest.get("event_id")))
            pre = next((r for r in before if r.get("stage") == PRE_ARRIVAL
                        and r.get("event_id") == paired), None)
            for r in reversed(before) if pre is None else ():
                if r.get("stage") != PRE_ARRIVAL:
                    break  # an earlier journey's entry: its pre-arrival is not this one's
                if r.get("admin") != latest.get("admin"):
                    pre = r
                    break
        journeys.append([latest] if pre is None else [pre, latest])
    journeys.sort(key=lambda j: _risk_key(j[-1]), reverse=True)
    return [_risk_row(ctx, rec, en_route_exit) for j in journeys for rec in j]


def _risk_key(rec: Mapping[str, Any]) -> tuple[float, float, str]:
    return (epoch(rec.get("event_time")) or 0.0, epoch(rec.get("assessed_at")) or 0.0,
            str(rec.get("risk_id") or ""))


def _status(ctx: AgencyContext, journey: list[dict[str, Any]],
            latest_pair: Mapping[str, Any] | None) -> str:
    """``en_route`` (exited the other side, not yet entered here), ``arrived``, ``departed``,
    ``passed`` (entered the other side) or ``unknown``."""
    if journey:
        last = journey[-1]
        ours = last.get("admin") == ctx.admin
        if last.get("direction") == "EXIT":
            if ours:
                return "departed"
            if latest_pair and latest_pair.get("exit_event_id") == last.get("event_id"):
                return "arrived" if latest_pair.get("entry_admin") == ctx.admin else "passed"
            return "en_route"
        if last.get("direction") == "ENTRY":
            return "arrived" if ours else "passed"
    if latest_pair:
        return "arrived" if latest_pair.get("entry_admin") == ctx.admin else "passed"
    return "unknown"


def enroute_row(view: Mapping[str, Any]) -> dict[str, Any]:
    """One line of the 'on their way to this side' list."""
    exit_ = view["latest"]["exit"] or {}
    pre = next((r for r in view.get("risk") or [] if r.get("en_route")), None)
    return {
        "plate": view["plate"],
        "crossing": exit_.get("crossing") or view.get("crossing"),
        "exit_time": exit_.get("event_time"),
        "exit_admin": exit_.get("admin"),
        "vehicle_type": exit_.get("vehicle_type"),
        "inspections": sum(1 for i in view["inspections"] if i["recognised"]),
        "open_alerts": len(view["alerts"]),
        "risk_channel": pre.get("channel") if pre else None,
    }


def alert_rows(values: Iterable[str | None]) -> list[dict[str, Any]]:
    return [e["record"] for e in _load(v for v in values if v)]
