"""Generating vehicles and the records both administrations' terminals send about them."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import tooling.simulate.cargo as cargo
from bordersync.border import BorderConfig, Crossing
from bordersync.events import format_time
from bordersync.plates import normalise_plate
from tooling.simulate.model import Copy, Mess, Observation, Vehicle
from tooling.simulate.plates import (
    CYRILLIC_KEYBOARDS,
    FORMATS,
    cyrillicise,
    make_plate,
    respace,
    typo,
)

# Share of traffic per crossing (Tabanovce–Preševo is the busiest corridor).
CROSSING_WEIGHT = {"tabanovce-presevo": 0.35, "bogorodica-evzoni": 0.25,
                   "blace-hani-i-elezit": 0.15, "kjafasan-qafe-thane": 0.15,
                   "deve-bair-gyueshevo": 0.10}
VEHICLE_MIX = (("TRUCK", 0.45), ("CAR", 0.35), ("VAN", 0.12), ("BUS", 0.08))
TRUCK_INSPECTIONS = ("XRAY", "DOCUMENTS", "WEIGHBRIDGE", "PHYTO")
FINDINGS = {"HOLD": ("documents incomplete", "seal number differs from declaration",
                     "density anomaly on X-ray image, physical check pending"),
            "SEIZED": ("undeclared goods found", "counterfeit cigarettes in load"),
            "REFERRED": ("referred to phytosanitary service",)}


class Traffic:
    """Deterministic generator: every random choice comes from one ``random.Random(seed)``."""

    def __init__(self, seed: int, border: BorderConfig, start: datetime, span: timedelta,
                 mess: Mess, mass_tolerance_pct: float, id_prefix: str = "") -> None:
        self.rng = random.Random(seed)
        self.border, self.start, self.span, self.mess = border, start, span, mess
        self.tolerance = mass_tolerance_pct
        self.id_prefix = id_prefix
        self.used_plates: set[str] = set()
        self.last: tuple[str, str, datetime] | None = None  # plate, crossing, passage (clones)
        self.crossings = sorted(border.crossings, key=lambda c: c.id)
        weights = [CROSSING_WEIGHT.get(c.id, 0.1) for c in self.crossings]
        self.crossing_weights = weights
        self.skew = {post: timedelta(seconds=self.rng.uniform(-mess.max_skew_seconds,
                                                              mess.max_skew_seconds))
                     for c in self.crossings for post in sorted(c.sides.values())}

    # -- identities ---------------------------------------------------------------------------

    def event_id(self, admin: str) -> str:
        return f"{self.id_prefix}{admin.lower()}-{self.rng.getrandbits(64):016x}"

    def unique_plate(self, country: str) -> str:
        while True:
            plate = make_plate(self.rng, country)
            if normalise_plate(plate) not in self.used_plates:
                self.used_plates.add(normalise_plate(plate))
                return plate

    def spelled(self, plate: str, admin: str) -> str:
        """How an officer of ``admin`` types ``plate``."""
        rng, mess = self.rng, self.mess
        if rng.random() < mess.plate_variant:
            plate = respace(rng, plate)
        if admin in CYRILLIC_KEYBOARDS and rng.random() < mess.cyrillic:
            plate = cyrillicise(rng, plate.upper())
        return plate

    def mistyped(self, plate: str) -> str:
        while True:
            wrong = typo(self.rng, plate)
            if normalise_plate(wrong) not in self.used_plates:
                self.used_plates.add(normalise_plate(wrong))
                return wrong

    # -- one vehicle --------------------------------------------------------------------------

    def vehicle(self) -> Vehicle:
        rng, mess = self.rng, self.mess
        crossing = rng.choices(self.crossings, self.crossing_weights)[0]
        admins = sorted(crossing.sides)
        exit_admin = rng.choice(admins)
        entry_admin = crossing.other_admin(exit_admin)
        nationality = self._nationality(admins)
        vtype = rng.choices([v for v, _ in VEHICLE_MIX], [w for _, w in VEHICLE_MIX])[0]
        clone = self.last if (mess.plate_clone and self.last is not None
                              and self.last[1] != crossing.id
                              and rng.random() < mess.plate_clone) else None
        plate = clone[0] if clone else self.unique_plate(nationality)
        # true moment of leaving the exit post
        passage = (clone[2] + timedelta(minutes=rng.uniform(-20, 20)) if clone
                   else self.start + self.span * rng.random())
        if mess.plate_clone:
            self.last = (plate, crossing.id, passage)
        transit = timedelta(minutes=rng.uniform(4, 40) if vtype == "TRUCK" else rng.uniform(2, 15))
        details = self._details(vtype, nationality, exit_admin, passage)
        vehicle = Vehicle(crossing.id, plate)

        inspections = self._exit_inspections(vtype, exit_admin, crossing, plate, nationality,
                                             passage, details)
        vehicle.inspections += inspections
        if any(o.event["result"] == "SEIZED" for o in inspections):
            return vehicle  # the vehicle stays at the exit post
        fate = rng.random()
        has_exit = fate >= mess.unmatched_entry
        has_entry = not (mess.unmatched_entry <= fate < mess.unmatched_entry + mess.unmatched_exit)
        if has_exit:
            vehicle.exit = self._crossing(crossing, exit_admin, "EXIT", plate, nationality, vtype,
                                          passage, details, "exit")
        if has_entry:
            entry_details = self._entry_details(vtype, details)
            entry_plate = plate
            if has_exit and rng.random() < mess.plate_typo:
                entry_plate, vehicle.typo = self.mistyped(plate), True
            vehicle.entry = self._crossing(crossing, entry_admin, "ENTRY", entry_plate, nationality,
                                           vtype, passage + transit, entry_details, "entry")
            if vtype == "TRUCK" and rng.random() < mess.entry_inspected:
                when = passage + transit + timedelta(minutes=rng.uniform(2, 30))
                vehicle.inspections.append(self._inspection(
                    crossing, entry_admin, "DOCUMENTS", plate, nationality, when, details,
                    "entry_inspection"))
        # Exit-side controls reach the broker before the exit record they precede.
        if vehicle.exit is not None:
            first = min(c.arrival for c in vehicle.exit.copies)
            for obs in inspections:
                obs.copies[0].arrival = min(obs.copies[0].arrival, first - timedelta(seconds=1))
        return vehicle

    def _nationality(self, admins: list[str]) -> str:
        r = self.rng.random()
        if r < 0.85:
            return self.rng.choice(admins)
        return self.rng.choice(FORMATS)

    def _details(self, vtype: str, nationality: str, exit_admin: str,
                 passage: datetime) -> dict[str, Any]:
        rng = self.rng
        if vtype == "TRUCK":
            out: dict[str, Any] = {
                "trailer_plate": make_plate(rng, nationality),
                "seals": [cargo.seal(rng, exit_admin) for _ in range(rng.randint(1, 3))],
                "gross_mass_kg": rng.randint(9_000, 40_000),
                "declaration_ref": cargo.mrn(rng, passage.year, exit_admin),
            }
            if rng.random() < 0.6:
                out["container_ids"] = [cargo.container_id(rng) for _ in range(rng.randint(1, 2))]
            return out
        if vtype == "BUS":
            return {"passengers": rng.randint(12, 55)}
        if vtype == "VAN":
            return {"passengers": rng.randint(1, 3), "gross_mass_kg": rng.randint(1_800, 3_500)}
        return {"passengers": rng.randint(1, 5)}

    def _entry_details(self, vtype: str, details: dict[str, Any]) -> dict[str, Any]:
        """What the entry side records: weighbridges differ a little; some real discrepancies."""
        rng, mess = self.rng, self.mess
        out: dict[str, Any] = {k: (list(v) if isinstance(v, list) else v)
                               for k, v in details.items()}
        if "gross_mass_kg" in out:
            if vtype == "TRUCK" and rng.random() < mess.mass_discrepancy:
                factor = rng.uniform(2.5, 6.0) * self.tolerance / 100 * rng.choice((-1, 1))
            else:
                factor = rng.uniform(-0.6, 0.6) * self.tolerance / 100
            out["gross_mass_kg"] = round(out["gross_mass_kg"] * (1 + factor))
        if vtype == "TRUCK" and rng.random() < mess.seal_discrepancy:
            seals = out["seals"]
            seals[rng.randrange(len(seals))] = cargo.seal(rng, "XX")
        if vtype == "BUS" and rng.random() < mess.passenger_discrepancy:
            out["passengers"] += rng.randint(1, 4)
        return out

    def _exit_inspections(self, vtype: str, admin: str, crossing: Crossing, plate: str,
                          nationality: str, passage: datetime,
                          details: dict[str, Any]) -> list[Observation]:
        rng, mess = self.rng, self.mess
        if vtype == "TRUCK" and rng.random() < mess.truck_inspected:
            kinds = rng.sample(TRUCK_INSPECTIONS, rng.randint(1, 3))
        elif vtype != "TRUCK" and rng.random() < mess.car_inspected:
            kinds = ["DOCUMENTS"]
        else:
            return []
        # Controls happen in the hour and a half before the vehicle leaves the post.
        offsets = sorted((rng.uniform(5, 90) for _ in kinds), reverse=True)
        return [
            self._inspection(crossing, admin, kind, plate, nationality,
                             passage - timedelta(minutes=off), details, "exit_inspection")
            for kind, off in zip(kinds, offsets, strict=True)
        ]

    def _inspection(self, crossing: Crossing, admin: str, kind: str, plate: str,
                    nationality: str, when: datetime, details: dict[str, Any],
                    role: str) -> Observation:
        rng, mess = self.rng, self.mess
        post = crossing.sides[admin]
        r = rng.random()
        result = ("SEIZED" if r < mess.seized and role == "exit_inspection"
                  else "HOLD" if r < mess.seized + mess.hold
                  else "REFERRED" if r < mess.seized + mess.hold + 0.02 else "CLEARED")
        event: dict[str, Any] = {
            "event_id": self.event_id(admin), "kind": "inspection", "admin": admin, "post": post,
            "event_time": format_time(when + self.skew[post]),
            "plate": self.spelled(plate, admin), "nationality": nationality,
            "terminal_id": f"{post.lower()}-{kind.lower()}-{rng.randint(1, 2)}",
            "inspection_type": kind, "result": result,
        }
        if result in FINDINGS:
            event["findings"] = rng.choice(FINDINGS[result])
        if kind == "WEIGHBRIDGE" and "gross_mass_kg" in details:
            event["measured_mass_kg"] = round(details["gross_mass_kg"] * rng.uniform(0.99, 1.01))
        if kind == "XRAY" and "seals" in details and result == "CLEARED":
            event["seals_applied"] = [cargo.seal(rng, admin)]
        obs = Observation(role, ids=[event["event_id"]])
        obs.copies.append(Copy(event, self._arrival(when)))
        if rng.random() < mess.exact_resend:
            obs.copies.append(Copy(dict(event), self._resend_arrival(obs.copies[0]), "exact"))
        return obs

    def _crossing(self, crossing: Crossing, admin: str, direction: str, plate: str,
                  nationality: str, vtype: str, when: datetime, details: dict[str, Any],
                  role: str) -> Observation:
        rng, mess = self.rng, self.mess
        post = crossing.sides[admin]
        booth = rng.randint(1, 4)
        event: dict[str, Any] = {
            "event_id": self.event_id(admin), "kind": "crossing", "admin": admin, "post": post,
            "event_time": format_time(when + self.skew[post]),
            "plate": self.spelled(plate, admin), "nationality": nationality,
            "terminal_id": f"{post.lower()}-booth-{booth}", "direction": direction,
            "vehicle_type": vtype, **details,
        }
        obs = Observation(role, ids=[event["event_id"]])
        first = Copy(event, self._arrival(when))
        obs.copies.append(first)
        r = rng.random()
        if r < mess.exact_resend:
            obs.copies.append(Copy(dict(event), self._resend_arrival(first), "exact"))
        elif r < mess.exact_resend + mess.conflicting_resend:
            obs.copies.append(Copy(self._edited(event), self._resend_arrival(first), "conflicting"))
        elif r < mess.exact_resend + mess.conflicting_resend + mess.physical_duplicate:
            later = when + timedelta(seconds=rng.uniform(10, 180))
            twin = {**event, "event_id": self.event_id(admin),
                    "terminal_id": f"{post.lower()}-booth-{booth % 4 + 1}",
                    "event_time": format_time(later + self.skew[post]),
                    "plate": self.spelled(plate, admin)}
            obs.ids.append(twin["event_id"])
            obs.copies.append(Copy(twin, self._arrival(later), "physical"))
        return obs

    def _edited(self, event: dict[str, Any]) -> dict[str, Any]:
        """A re-send after the officer corrected a field: same id, different content."""
        out = dict(event)
        if "gross_mass_kg" in out:
            out["gross_mass_kg"] += self.rng.choice((-1, 1)) * self.rng.randint(20, 400)
        else:
            out["passengers"] = out.get("passengers", 0) + 1
        return out

    def _arrival(self, when: datetime) -> timedelta:
        """Reaches the broker a few seconds after it happened, or minutes later after an outage."""
        if self.rng.random() < self.mess.late_arrival:
            delay = self.rng.uniform(300, 2400)
        else:
            delay = self.rng.expovariate(1 / 3)
        return when - self.start + timedelta(seconds=delay)

    def _resend_arrival(self, first: Copy) -> timedelta:
        return first.arrival + timedelta(seconds=self.rng.uniform(5, 1800))
