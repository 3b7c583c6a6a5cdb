"""``bordersync simulate``: deterministic border traffic with the real world's mess, and its truth.

    sim = simulate(seed=7, vehicles=8000, start=datetime(2026, 11, 20, tzinfo=UTC))
    sim.events   # JSON-ready dicts in arrival order (valid contract events)
    sim.truth    # what a correct pipeline produces (format: docs/producers.md)
    sim.lines()  # the JSON lines file, with ``invalid`` deliberately broken lines mixed in
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bordersync.border import BorderConfig, load_border_config
from bordersync.events import format_time
from bordersync.settings import Settings
from tooling.simulate.model import Mess
from tooling.simulate.traffic import Traffic
from tooling.simulate.truth import TRUTH_FORMAT, TruthBuilder, arrival_order, time_bounds

__all__ = ["Mess", "Simulation", "default_start", "simulate"]

DEFAULT_SPAN = timedelta(hours=24)


@dataclass
class Simulation:
    events: list[dict[str, Any]]
    truth: dict[str, Any]
    invalid: list[tuple[int, str, str]] = field(default_factory=list)  # (line, text, reason)

    def lines(self) -> list[str]:
        """The events file: one JSON object per line, broken lines at their truth line numbers."""
        out = [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in self.events]
        for line, text, _ in self.invalid:  # ascending line numbers
            out.insert(line - 1, text)
        return out

    def write(self, events_path: Path | None, truth_path: Path | None) -> None:
        if events_path is not None:
            events_path.write_text("".join(f"{line}\n" for line in self.lines()), "utf-8")
        if truth_path is not None:
            truth_path.write_text(json.dumps(self.truth, ensure_ascii=False, indent=1), "utf-8")


def default_start(now: datetime | None = None) -> datetime:
    """Midnight UTC two days ago: a whole simulated day whose windows have all passed."""
    today = (now or datetime.now(UTC)).astimezone(UTC).replace(hour=0, minute=0, second=0,
                                                               microsecond=0)
    return today - timedelta(days=2)


def simulate(
    seed: int, vehicles: int, start: datetime, *, span: timedelta = DEFAULT_SPAN,
    mess: Mess | None = None, invalid: int = 0, settings: Settings | None = None,
    border: BorderConfig | None = None, id_prefix: str = "",
) -> Simulation:
    """Traffic of ``vehicles`` vehicles whose exits are spread over ``[start, start + span)``."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware (UTC)")
    settings = settings or Settings()
    border = border or load_border_config(settings.border_config)
    traffic = Traffic(seed, border, start, span, mess or Mess(), settings.mass_tolerance_pct,
                      id_prefix)
    fleet = [traffic.vehicle() for _ in range(vehicles)]
    ordered = arrival_order(fleet)
    events = [c.event for c in ordered]
    truth = TruthBuilder(fleet, ordered, settings.mass_tolerance_pct).build()
    window = timedelta(minutes=max(c.window_minutes for c in border.crossings))
    first, last, due = time_bounds(events, window, settings.grace_seconds)
    bad = _invalid_lines(random.Random(seed ^ 0x5EED), len(events), invalid)
    header = {
        "format": TRUTH_FORMAT, "seed": seed, "vehicles": vehicles, "start": format_time(start),
        "span_seconds": span.total_seconds(), "first_event_time": first,
        "last_event_time": last, "decidable_after": due,
        "assumptions": {"grace_seconds": settings.grace_seconds,
                        "mass_tolerance_pct": settings.mass_tolerance_pct,
                        "duplicate_window_seconds": settings.duplicate_window_seconds,
                        "windows_minutes": {c.id: c.window_minutes for c in border.crossings}},
        "events": len(events), "lines": len(events) + len(bad),
        "invalid_lines": [{"line": n, "reason": r} for n, _, r in bad],
    }
    return Simulation(events, {**header, **truth}, bad)


_BROKEN: tuple[tuple[str, str], ...] = (
    ('{"event_id": "broken-1", "kind": "crossing", "admin": "MK"', "not valid JSON"),
    ('{"event_id":"bad-post","kind":"crossing","admin":"MK","post":"XXNOPE1","event_time":'
     '"2026-01-01T00:00:00Z","plate":"SK 1 AB","nationality":"MK","terminal_id":"t",'
     '"direction":"EXIT","vehicle_type":"CAR"}', "unknown post code"),
    ('{"event_id":"bad-dir","kind":"crossing","admin":"MK","post":"MKTAB01","event_time":'
     '"2026-01-01T00:00:00Z","plate":"SK 1 AB","nationality":"MK","terminal_id":"t",'
     '"direction":"SIDEWAYS","vehicle_type":"CAR"}', "unknown direction"),
    ('{"event_id":"no-plate","kind":"inspection","admin":"RS","post":"RSPRE01","event_time":'
     '"2026-01-01T00:00:00Z","nationality":"RS","terminal_id":"t","inspection_type":"XRAY",'
     '"result":"CLEARED"}', "required field plate missing"),
    ('{"event_id":"naive","kind":"crossing","admin":"AL","post":"ALQTH01","event_time":'
     '"2026-01-01T00:00:00","plate":"AA 123 BB","nationality":"AL","terminal_id":"t",'
     '"direction":"ENTRY","vehicle_type":"CAR"}', "time without UTC offset"),
)


def _invalid_lines(rng: random.Random, valid: int, count: int) -> list[tuple[int, str, str]]:
    total = valid + count
    numbers = sorted(rng.sample(range(1, total + 1), count)) if count else []
    return [(n, *_BROKEN[i % len(_BROKEN)]) for i, n in enumerate(numbers)]
