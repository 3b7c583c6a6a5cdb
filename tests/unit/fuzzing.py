"""Shared generators and settings for the fuzz tests (test_fuzz_*.py).

Structured inputs (JSON values, mutated events) are built in plain Python from one seed that
hypothesis draws: generation then costs one draw per example, which keeps >10,000 examples cheap
on a shared 2-core machine. Hypothesis still prints the failing input itself.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.helpers import crossing, inspection


def fuzz(examples: int) -> settings:
    # No deadline: two shared cores make timings noisy; no database: nothing written to the tree.
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


FIELD_NAMES = sorted({*crossing(), *inspection(), "trailer_plate", "container_ids", "seals",
                      "gross_mass_kg", "declaration_ref", "passengers", "priority", "findings",
                      "seals_applied", "measured_mass_kg"})
# Values that are almost right are the ones most likely to slip through a validator.
NEAR_MISSES: list[Any] = [
    "", " ", "MK", "mk", "AL", "RS", "XX", "MKKJF01", "ALQTH01", "RSPRE01", "EXIT", "exit", "ENTRY",
    "TRUCK", "crossing", "inspection", "XRAY", "HOLD", "GREEN_LANE", "NONE", "2026-11-25T10:00:00Z",
    "2026-11-25T10:00:00", "2026-13-45T99:00:00+01:00", "2026-11-25T10:00:00+25:00", "yesterday",
    "SK 1234 AB", "\x00", "é" * 300, "\ud800", 0, -1, 2**31, 2**31 - 1, 2**70, 1.5, float("nan"),
    float("inf"), True, False, [], [""], ["S1", "S2"], ["x"] * 65, [1, 2], {}, {"a": 1}, None,
]
ALPHABET = "AKMOPSTXакмоєЅ -.\t1209\x00é\u200b\U0001f600\"\\{}[]:,"


def random_text(rnd: random.Random, max_size: int = 16) -> str:
    return "".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(0, max_size)))


def random_json(rnd: random.Random, depth: int = 3) -> Any:
    roll = rnd.random()
    if depth > 0 and roll < 0.15:
        return [random_json(rnd, depth - 1) for _ in range(rnd.randint(0, 4))]
    if depth > 0 and roll < 0.3:
        keys = [rnd.choice(FIELD_NAMES) if rnd.random() < 0.6 else random_text(rnd, 6)
                for _ in range(rnd.randint(0, 5))]
        return {k: random_json(rnd, depth - 1) for k in keys}
    if roll < 0.5:
        return rnd.choice(NEAR_MISSES)
    if roll < 0.65:
        return rnd.randint(-(2**70), 2**70) if rnd.random() < 0.2 else rnd.randint(-5, 100_000)
    if roll < 0.72:
        return rnd.uniform(-1e9, 1e9)
    return random_text(rnd)


def mutate_event(rnd: random.Random) -> dict[str, Any]:
    """A valid event with one to four fields replaced, removed or added."""
    event = rnd.choice([crossing, inspection])()
    for _ in range(rnd.randint(1, 4)):
        name = rnd.choice(FIELD_NAMES) if rnd.random() < 0.85 else random_text(rnd, 8)
        if rnd.random() < 0.3:
            event.pop(name, None)
        else:
            event[name] = random_json(rnd, 2)
    return event


SEEDS = st.integers(min_value=0, max_value=2**64 - 1)
JSON = SEEDS.map(lambda seed: random_json(random.Random(seed)))
MUTATED_EVENTS = SEEDS.map(lambda seed: mutate_event(random.Random(seed)))
