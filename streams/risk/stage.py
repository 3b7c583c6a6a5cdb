"""The risk stage the processor calls (one hook per crossing, inspection and matched pair).

It owns what changes outside the event stream — the profile book, the lists, the trust store —
behind ``RiskSources``, which a feed (``streams.risk.feed``) fills from the compacted topics while
the worker runs: the next batch sees the new profiles (hot reload). Per batch it computes what is
in force once (signature checks are not on the per-event path), then per event it only evaluates
rules. Outputs go back to the processor as data: ``risk`` records, history entries in the
vehicle's state, metric tallies.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bordersync.border import BorderConfig, Crossing
from bordersync.security.signing import TrustStore
from streams.logic import dwell
from streams.logic.model import VehicleState, to_epoch_ms
from streams.risk.assess import InForce, assess
from streams.risk.lists import build_lists
from streams.risk.profiles import ProfileBook

if TYPE_CHECKING:
    from streams.tally import Tally

log = logging.getLogger("bordersync.risk")
DEFAULT_TRANSIT_S = 600.0  # until the crossing's first matched pair: minutes, not hours
TRANSIT_ALPHA = 0.1  # EWMA weight of each new transit time
POSITIVE = ("HOLD", "SEIZED")
RECHECK_SECONDS = 60.0  # validity periods and key expiry are re-evaluated at least this often


@dataclass
class RiskSources:
    """Profiles, lists and keys as last seen; written by the feed thread, read per batch."""

    book: ProfileBook = field(default_factory=ProfileBook)
    lists: dict[str, bytes] = field(default_factory=dict)
    watch_keys: dict[str, bytes] = field(default_factory=dict)
    trust: Callable[[], TrustStore] = TrustStore
    lock: threading.Lock = field(default_factory=threading.Lock)
    generation: int = 0

    def apply(self, topic_kind: str, key: str, value: bytes | None) -> None:
        """One record of ``risk-profiles`` (``topic_kind`` "profiles") or ``risk-lists``."""
        with self.lock:
            if topic_kind == "profiles":
                self.book.apply(key, value)
            elif value is None:
                self.lists.pop(key, None)
            else:
                self.lists[key] = value
            self.generation += 1


class RiskStage:
    def __init__(self, border: BorderConfig, sources: RiskSources | None = None) -> None:
        self.sources = sources or RiskSources()
        self.windows = {c.id: c.window_minutes * 60_000 for c in border.crossings}  # ms
        self.transit: dict[str, float] = {}
        self._cache_key: tuple[int, int, float] | None = None
        self._in_force: dict[str, InForce] = {}
        self.crossings = {c.id: c for c in border.crossings}
        self.problems: list[str] = []  # of the last evaluation: bad signatures, bad lists...

    # --- what is in force ------------------------------------------------------------------

    def in_force(self, crossing: Crossing, now: datetime) -> InForce:
        src = self.sources
        trust = src.trust()
        key = (src.generation, id(trust), now.timestamp() // RECHECK_SECONDS)
        if key != self._cache_key:
            with src.lock:
                statuses = src.book.evaluate(trust, now)
                lists = build_lists(dict(src.lists), trust, dict(src.watch_keys), now)
            active = [s.profile for s in statuses if s.state == "active" and s.profile]
            problems = [f"{s.key}: {s.state}: {s.detail}" for s in statuses
                        if s.state == "invalid" or "rejected" in s.detail] + lists.problems
            if problems != self.problems:  # said once per change, not once per minute
                for problem in problems:
                    log.warning("risk record not applied", extra={"fields": {"reason": problem}})
            self.problems = problems
            log.info("risk rules in force", extra={"fields": {
                "profiles": [p.key for p in active], "watchlists": sorted(lists.watch),
                "aeo": sorted(lists.aeo)}})
            self._in_force = {
                c.id: InForce(tuple(p for p in active if p.applies_at(c.id, frozenset(c.sides))),
                              lists)
                for c in self.crossings.values()}
            self._cache_key = key
        return self._in_force[crossing.id]

    # --- hooks -----------------------------------------------------------------------------

    def on_crossing(self, st: VehicleState, event: dict[str, Any], plate: str, crossing: Crossing,
                    now: datetime, tally: Tally, t: int | None = None) -> dict[str, Any]:
        """The assessment of a forwarded crossing event, remembered in the vehicle's history.
        ``t``: its event time in epoch ms when the caller has it (the processor does)."""
        if t is None:
            t = to_epoch_ms(event["event_time"])  # as the state's times
        record = assess(event, plate, crossing, st.risk, self.in_force(crossing, now), now,
                        self.transit.get(crossing.id, DEFAULT_TRANSIT_S), t)
        hit = [h["profile_id"] for h in record["hits"]]
        st.risk.append([t, "A", event["event_id"], crossing.id, record["stage"],
                        record["channel"], hit, event["admin"]])
        tally.inc("risk_assessed", crossing.id, record["stage"], record["channel"])
        for h in record["hits"]:
            tally.inc("risk_hits", h["profile_id"], h["channel"])
        if event["direction"] == "EXIT":
            # Exit-side controls happened before the exit: join them to this assessment.
            window = self.windows[crossing.id]
            for i in st.inspections:
                if i.crossing == crossing.id and i.admin == event["admin"] and 0 <= t - i.t <= window:
                    self._outcome(tally, record["stage"], record["channel"], hit, i.result)
        lane = "green" if record["channel"] == "GREEN" else "other"
        value = dwell.for_crossing(event["direction"], event["admin"], crossing.id, t,
                                   st.inspections, self.windows[crossing.id])
        if value is not None:
            tally.observe("risk_dwell", value / 1000, crossing.id, lane)
        return record

    def on_inspection(self, st: VehicleState, event: dict[str, Any], crossing: str,
                      tally: Tally, t: int | None = None) -> None:
        """Join an inspection to the vehicle's latest assessment at this crossing (hit rates),
        and remember a hold for the history rules. ``t`` as in ``on_crossing``."""
        if t is None:
            t = to_epoch_ms(event["event_time"])
        window = self.windows[crossing]
        joined = None
        for h in st.risk:
            if h[1] != "A" or h[3] != crossing or abs(t - h[0]) > window:
                continue
            if h[4] == "PRE_ARRIVAL" and h[7:] == [event["admin"]] and t <= h[0]:
                joined = h  # an exit-side control reported after its EXIT was assessed
                break
            if h[0] <= t:
                joined = h  # the latest assessment before the control
        if joined is not None:
            self._outcome(tally, joined[4], joined[5], joined[6], event["result"])
        if event["result"] in POSITIVE:
            st.risk.append([t, "H"])
        found = dwell.for_inspection(event["post"], t, st.seen, window)
        if found is not None:
            lane = next(("green" if h[5] == "GREEN" else "other" for h in st.risk
                         if h[1] == "A" and h[2] == found[0]), None)
            if lane is not None:
                tally.observe("risk_dwell", found[3] / 1000, crossing, lane)

    def on_matched(self, st: VehicleState, record: Mapping[str, Any], tally: Tally) -> None:
        """Transit statistics for expected arrivals; discrepancies for the history rules."""
        crossing = str(record["crossing"])
        old = self.transit.get(crossing)
        value = float(record["transit_seconds"])
        self.transit[crossing] = value if old is None else old + TRANSIT_ALPHA * (value - old)
        if record["discrepancies"]:
            st.risk.append([to_epoch_ms(record["entry_time"]), "D"])

    @staticmethod
    def _outcome(tally: Tally, stage: str, channel: str, hit: list[str], result: str) -> None:
        tally.inc("risk_outcomes", stage, channel, result)
        for profile in hit:
            tally.inc("risk_rule_outcomes", profile, result)
