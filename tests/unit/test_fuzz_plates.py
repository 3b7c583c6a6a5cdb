"""Fuzzing plate normalisation (1,800 generated inputs): total, idempotent, separator-free,
Cyrillic look-alikes read as Latin, and every way officers spell one plate normalises alike."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from bordersync.plates import normalise_plate
from tests.unit.fuzzing import SEEDS, fuzz

SEPARATORS = " -.\t"
CYRILLIC_TWINS = "АВЕКМНОРСТУХЈЅІ"
LATIN_TWINS = "ABEKMHOPCTYXJSI"
TO_CYRILLIC = dict(zip(LATIN_TWINS, CYRILLIC_TWINS, strict=True))
PLATE_TEXT = st.text(alphabet=SEPARATORS + CYRILLIC_TWINS + CYRILLIC_TWINS.lower()
                     + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz0123456789ßΣёЁ\u00a0", max_size=24)


@fuzz(1000)
@given(st.text(max_size=30) | PLATE_TEXT)
def test_normalise_is_total_idempotent_and_separator_free(plate: str) -> None:
    once = normalise_plate(plate)
    assert isinstance(once, str)
    assert normalise_plate(once) == once
    assert not set(once) & set(SEPARATORS)
    assert not set(once) & set(CYRILLIC_TWINS + CYRILLIC_TWINS.lower())
    assert once == once.upper()


def officer_spelling(plate: str, rnd: random.Random) -> str:
    """How an officer might type ``plate``: any case, Cyrillic twins, stray separators."""
    out = []
    for ch in plate:
        if ch in TO_CYRILLIC and rnd.random() < 0.5:
            ch = TO_CYRILLIC[ch]
        if rnd.random() < 0.5:
            ch = ch.lower()
        out.append(ch)
        if rnd.random() < 0.3:
            out.append(rnd.choice(SEPARATORS))
    return rnd.choice(["", " ", "-"]) + "".join(out)


@fuzz(800)
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=10), SEEDS)
def test_every_spelling_of_a_plate_normalises_alike(plate: str, seed: int) -> None:
    spelled = officer_spelling(plate, random.Random(seed))
    assert normalise_plate(spelled) == normalise_plate(plate) == plate
