"""Risk scenario with ground truth: who carries something, AEO fleets, watchlisted vehicles typed
under varying spellings. Separate from ``simulate`` so its events and truth stay as they are.

    sc = simulate_risk(seed=7, trucks=4000, start=datetime(2026, 11, 20, tzinfo=UTC))
    sc.events       # valid contract events, time order: prior trips, EXITs, ENTRYs, inspections
    sc.truth        # normalised plate -> {"carries", "aeo", "watchlisted", "history"}
    sc.watchlists   # admin -> identifiers as the contributing administration typed them
    sc.aeo          # admin -> operators [{"id", "name", "plates"}]

Behaviour (documented in docs/risk.md with the measured figures): 25 % of trucks belong to AEO
operators (always honest); 10 % of the others carry something. Carriers travel unsealed more
often (55 % vs 5 %), are outside the 8-44 t band more often (35 % vs 2 %), are on a watchlist more
often (35 % vs 1 %) and more often had a discrepancy on a trip in the last days (30 % vs 3 %).
The entry side inspects 40 % of trucks at random (SEIZED when it carries something, else
CLEARED); the exit side X-rays 10 % (HOLD for half of the carriers), so hit rates are measured on
a random sample, not only on what the risk engine selected.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bordersync.plates import normalise_plate
from tooling.simulate.cargo import container_id, mrn, seal
from tooling.simulate.plates import cyrillicise, make_plate, respace

CROSSING = "kjafasan-qafe-thane"
POSTS = {"MK": "MKKJF01", "AL": "ALQTH01"}
BAND = (8000, 44000)


@dataclass
class RiskScenario:
    events: list[dict[str, Any]]
    truth: dict[str, dict[str, Any]]
    watchlists: dict[str, list[str]] = field(default_factory=dict)
    aeo: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class _Gen:
    def __init__(self, seed: int, start: datetime) -> None:
        self.rng = random.Random(seed)
        self.start = start
        self.n = 0
        self.events: list[tuple[datetime, dict[str, Any]]] = []

    def spelled(self, plate: str, admin: str) -> str:
        if admin == "MK" and self.rng.random() < 0.4:
            return cyrillicise(self.rng, plate.replace(" ", "-"))
        return respace(self.rng, plate) if self.rng.random() < 0.5 else plate

    def crossing(self, admin: str, direction: str, at: datetime, plate: str,
                 details: dict[str, Any]) -> None:
        self.n += 1
        self.events.append((at, {
            "event_id": f"risk-{admin.lower()}-{self.n:07d}", "kind": "crossing", "admin": admin,
            "post": POSTS[admin], "event_time": at.isoformat(), "plate": self.spelled(plate, admin),
            "nationality": details["nationality"], "terminal_id": f"{admin}-booth-1",
            "direction": direction, "vehicle_type": "TRUCK",
            **{k: v for k, v in details.items() if k != "nationality" and v is not None}}))

    def inspection(self, admin: str, at: datetime, plate: str, nationality: str, kind: str,
                   result: str) -> None:
        self.n += 1
        self.events.append((at, {
            "event_id": f"risk-{admin.lower()}-{self.n:07d}", "kind": "inspection",
            "admin": admin, "post": POSTS[admin], "event_time": at.isoformat(),
            "plate": self.spelled(plate, admin), "nationality": nationality,
            "terminal_id": f"{admin}-scanner-1", "inspection_type": kind, "result": result}))


def simulate_risk(seed: int, trucks: int, start: datetime,
                  span: timedelta = timedelta(hours=12)) -> RiskScenario:
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware (UTC)")
    g = _Gen(seed, start)
    rng = g.rng
    aeo: dict[str, list[dict[str, Any]]] = {"MK": [], "AL": []}
    for admin in aeo:
        for k in range(3):
            aeo[admin].append({"id": f"{admin}AEO{k + 1:04d}", "name": f"{admin} trusted {k + 1}",
                               "plates": []})
    watch: dict[str, list[str]] = {"MK": [], "AL": []}
    truth: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for _ in range(trucks):
        exit_admin = rng.choice(["MK", "AL"])
        entry_admin = "AL" if exit_admin == "MK" else "MK"
        plate = make_plate(rng, exit_admin)
        while normalise_plate(plate) in used:
            plate = make_plate(rng, exit_admin)
        used.add(normalise_plate(plate))
        operator = None
        if rng.random() < 0.25:
            op = rng.choice(aeo[exit_admin])
            op["plates"].append(plate)
            operator = op["id"]
        carries = operator is None and rng.random() < 0.10
        details: dict[str, Any] = {
            "nationality": exit_admin,
            "declaration_ref": mrn(rng, start.year, exit_admin) if rng.random() < 0.9 else None,
            "trailer_plate": make_plate(rng, exit_admin) if rng.random() < 0.7 else None,
            "container_ids": [container_id(rng)] if rng.random() < 0.4 else None,
        }
        sealed = rng.random() >= (0.55 if carries else 0.05 if operator is None else 0.0)
        details["seals"] = [seal(rng, exit_admin)] if sealed else None
        outside = rng.random() < (0.35 if carries else 0.02 if operator is None else 0.0)
        details["gross_mass_kg"] = (rng.choice([rng.randint(46000, 60000), rng.randint(3000, 7000)])
                                    if outside else rng.randint(12000, 40000))
        watched = rng.random() < (0.35 if carries else 0.01 if operator is None else 0.0)
        if watched:
            ident = rng.choice([plate, details["trailer_plate"] or plate,
                                (details["container_ids"] or [plate])[0]])
            watch[rng.choice(["MK", "AL"])].append(ident)
        history = rng.random() < (0.30 if carries else 0.03 if operator is None else 0.0)
        t_exit = start + timedelta(seconds=rng.uniform(0, span.total_seconds()))
        if history:  # an earlier trip whose seals did not match on the other side
            before = t_exit - timedelta(days=rng.uniform(1, 5))
            prior = {**details, "seals": [seal(rng, exit_admin)]}
            g.crossing(exit_admin, "EXIT", before, plate, prior)
            g.crossing(entry_admin, "ENTRY", before + timedelta(minutes=8), plate,
                       {**prior, "seals": [seal(rng, exit_admin)]})
        if rng.random() < 0.10:  # exit-side X-ray before the exit
            result = "HOLD" if carries and rng.random() < 0.5 else "CLEARED"
            g.inspection(exit_admin, t_exit - timedelta(minutes=rng.uniform(5, 30)), plate,
                         exit_admin, "XRAY", result)
        g.crossing(exit_admin, "EXIT", t_exit, plate, details)
        t_entry = t_exit + timedelta(minutes=rng.uniform(5, 20))
        g.crossing(entry_admin, "ENTRY", t_entry, plate, details)
        if rng.random() < 0.40:
            g.inspection(entry_admin, t_entry + timedelta(minutes=rng.uniform(5, 40)), plate,
                         exit_admin, "PHYSICAL", "SEIZED" if carries else "CLEARED")
        truth[normalise_plate(plate)] = {"carries": carries, "aeo": operator,
                                         "watchlisted": watched, "history": history}
    g.events.sort(key=lambda te: te[0])
    return RiskScenario([e for _, e in g.events], truth, watch, aeo)
