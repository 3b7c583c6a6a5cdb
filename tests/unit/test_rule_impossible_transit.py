"""IMPOSSIBLE_TRANSIT: one plate at two crossings closer in time than any vehicle can drive."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from bordersync.border import load_border_config
from bordersync.events import format_time, parse_time
from bordersync.plates import normalise_plate
from streams.rules import expected_alerts
from streams.rules.base import Observed, OracleView
from tests.helpers import crossing
from tests.unit.streams_support import Harness, at
from tooling.simulate import simulate

TYPE = "IMPOSSIBLE_TRANSIT"
BORDER = load_border_config()


def _tab(**kw: object) -> dict[str, object]:
    return crossing(**{"event_id": "tab-1", "post": "MKTAB01", "terminal_id": "mk-tab-1", **kw})


def test_two_exits_at_two_crossings_twenty_minutes_apart() -> None:
    h = Harness()
    out = h.feed(crossing(event_time=at(0)), _tab(event_time=at(1200), plate="SK-1234-АВ"))
    (a,) = [a for a in out["alerts"] if a["type"] == TYPE]
    assert a["event_ids"] == ["mk-kjf-0001", "tab-1"]
    assert (a["crossing"], a["plate"]) == ("tabanovce-presevo", "SK1234AB")
    assert "MKKJF01 EXIT" in a["detail"] and "MKTAB01 EXIT" in a["detail"]
    assert "20 min apart" in a["detail"]


def test_no_alert_when_far_enough_apart_or_at_the_same_crossing() -> None:
    h = Harness()
    out = h.feed(crossing(event_time=at(0)), _tab(event_time=at(1800)))  # 30 min: possible
    assert not [a for a in out["alerts"] if a["type"] == TYPE]
    entry = crossing(event_id="al-1", admin="AL", post="ALQTH01", direction="ENTRY",
                     terminal_id="al-qth-1", event_time=at(300))
    out = Harness().feed(crossing(event_time=at(0)), entry)  # a pair, 5 min: ordinary
    assert out["matched"] and "alerts" not in out


def test_physical_duplicates_and_inspections_are_not_crossings_to_compare() -> None:
    h = Harness()
    dup = crossing(event_id="mk-kjf-0002", event_time=at(60))  # same crossing logged twice
    out = h.feed(crossing(event_time=at(0)), dup, _tab(event_time=at(600)))
    (a,) = [a for a in out["alerts"] if a["type"] == TYPE]
    assert a["event_ids"] == ["mk-kjf-0001", "tab-1"]  # the forwarded one, not the duplicate


def _with_clones(seed: int) -> list[dict[str, Any]]:
    """Simulated traffic plus clones: some EXITs re-appear at another MK post minutes later."""
    events = simulate(seed, 600, datetime(2026, 11, 20, tzinfo=UTC)).events
    rnd = random.Random(seed)
    mk_posts = [c.sides["MK"] for c in BORDER.crossings]
    exits = [e for e in events if e["kind"] == "crossing" and e["admin"] == "MK"]
    clones = []
    for i, e in enumerate(rnd.sample(exits, 40)):
        post = rnd.choice([p for p in mk_posts if p != e["post"]])
        t = parse_time(e["event_time"]) + timedelta(minutes=rnd.choice([-50, -25, -3, 0, 12, 29, 31]))
        clones.append({**e, "event_id": f"clone-{i}", "post": post, "event_time": format_time(t),
                       "terminal_id": f"clone-{post}"})
    mixed = events + clones
    rnd.shuffle(mixed)
    return mixed


def test_processor_and_oracle_agree_on_cloned_plates() -> None:
    """The differential check the simulator's own traffic cannot give (it has no clones)."""
    for seed in (1, 2):
        events = _with_clones(seed)
        h = Harness()
        h.now = datetime(2026, 11, 23, tzinfo=UTC)
        got = set()
        for i in range(0, len(events), 300):
            for a in h.feed(*events[i:i + 300]).get("alerts", []):
                if a["type"] == TYPE:
                    got.add((tuple(a["event_ids"]), a["crossing"], a["plate"]))
        view = OracleView(_forwarded(events), [], [], [])
        want = {(tuple(sorted(a["event_ids"])), a["crossing"], a["plate"])
                for a in expected_alerts(view) if a["type"] == TYPE}
        assert got == want
        assert len(want) >= 10


def _forwarded(events: list[dict[str, Any]]) -> list[Observed]:
    """Forwarded events by the contract: first copy of an id, no physical duplicate."""
    seen: set[str] = set()
    anchors: dict[tuple[str, str, str], list[datetime]] = {}
    out = []
    for e in events:
        if e["event_id"] in seen:
            continue
        seen.add(e["event_id"])
        post = BORDER.crossing_of_post(e["post"])
        assert post is not None
        if e["kind"] == "crossing":
            sig = (e["post"], e["direction"], normalise_plate(e["plate"]))
            t = parse_time(e["event_time"])
            if any(abs((t - u).total_seconds()) <= 600 for u in anchors.get(sig, [])):
                continue
            anchors.setdefault(sig, []).append(t)
        out.append(Observed(e, post.id, normalise_plate(e["plate"])))
    return out
