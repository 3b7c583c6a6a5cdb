"""One assessment: the profiles in force and the lists, applied to one crossing event.

Channel (docs/risk.md): RED when a RED profile hits or the weights add up to ``RED_SCORE``; else
GREEN for a mutually recognised AEO operator with a clean history (no discrepancy or hold on
record) even if YELLOW profiles hit; else YELLOW when a YELLOW profile hits; else GREEN when a
GREEN profile hits; else STANDARD (no selection: the officer's usual judgement).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bordersync.border import Crossing
from streams.logic.model import to_epoch_ms
from streams.risk.lists import Lists
from streams.risk.profiles import Profile
from streams.risk.rules import Subject, evaluate

RED_SCORE = 100
PRE_ARRIVAL, AT_ENTRY = "PRE_ARRIVAL", "ENTRY"


@dataclass(frozen=True)
class InForce:
    """What applies at one crossing during one batch: computed once per batch and crossing."""

    profiles: tuple[Profile, ...]
    lists: Lists

    @property
    def versions(self) -> list[str]:
        return [p.key for p in self.profiles]


def _idents(event: dict[str, Any]) -> list[tuple[str, str]]:
    out = [("plate", str(event["plate"]))]
    if event.get("trailer_plate"):
        out.append(("trailer", str(event["trailer_plate"])))
    out += [("container", str(c)) for c in event.get("container_ids") or []]
    return out


def assess(event: dict[str, Any], plate: str, crossing: Crossing, history: Sequence[Sequence[Any]],
           rules: InForce, now: datetime, transit_s: float | None,
           t: int | None = None) -> dict[str, Any]:
    """The ``risk`` record (avro/risk/v1.avsc) of one EXIT (pre-arrival) or ENTRY event.
    ``t``: its event time in epoch ms, as the history's (streams.logic.model), when known."""
    if t is None:
        t = to_epoch_ms(event["event_time"])
    # HMACs only when a watchlist profile is in force: the rest of the rules never need them.
    watched = any(p.rule["kind"] == "watchlist" for p in rules.profiles)
    hits_on_lists = rules.lists.watch_hits(_idents(event)) if watched else []
    subject = Subject(event, crossing.id, t, history, hits_on_lists)
    hits: list[dict[str, Any]] = []
    for p in rules.profiles:
        reason = evaluate(p.rule, subject)
        if reason is not None:
            hits.append({"profile_id": p.id, "profile_version": p.version, "owner": p.owner,
                         "rule": str(p.rule["kind"]), "channel": p.channel, "weight": p.weight,
                         "reason": reason})
    channels = {h["channel"] for h in hits}
    score = min(RED_SCORE, sum(int(h["weight"]) for h in hits))
    clean = not any(h[1] in ("D", "H") for h in history if h[0] <= t)
    op = rules.lists.operator(plate, crossing.sides, t / 1000)
    if "RED" in channels or score >= RED_SCORE:
        channel = "RED"
        summary = "physical control: " + "; ".join(h["reason"] for h in hits)
    elif op is not None and clean:
        channel = "GREEN"
        summary = f"green lane: operator {op.id} (AEO of {op.admin}, mutually recognised), " \
                  "clean history"
    elif "YELLOW" in channels or "GREEN" in channels:
        channel = "YELLOW" if "YELLOW" in channels else "GREEN"
        summary = "; ".join(h["reason"] for h in hits)
    else:
        channel = "STANDARD"
        summary = "no profile hit" + ("" if op is None else f"; AEO {op.id} but history not clean")
    exit_side = event["direction"] == "EXIT"
    stage = PRE_ARRIVAL if exit_side else AT_ENTRY
    # in seconds, as before integer ms (the same microsecond: transit_s is a running mean)
    expected = (datetime.fromtimestamp(t / 1000 + transit_s, UTC)
                if exit_side and transit_s is not None else None)
    return {
        "risk_id": hashlib.sha256(f"{event['event_id']}|{stage}".encode()).hexdigest()[:32],
        "stage": stage, "crossing": crossing.id, "plate": plate, "event_id": event["event_id"],
        "admin": event["admin"],
        "assessed_for": crossing.other_admin(event["admin"]) if exit_side else event["admin"],
        "event_time": event["event_time"], "channel": channel, "score": score,
        "green_lane": channel == "GREEN",
        "operator": op.id if op is not None else None, "summary": summary, "hits": hits,
        "profile_versions": rules.versions, "expected_arrival": expected, "assessed_at": now,
    }
