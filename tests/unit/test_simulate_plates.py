"""Plate formats per country, spelling variants, and cargo identifiers."""

from __future__ import annotations

import random
import re

import pytest

from bordersync.plates import normalise_plate
from tooling.simulate import cargo
from tooling.simulate.plates import (
    BG_LETTERS,
    GREEK_LATIN,
    cyrillicise,
    make_plate,
    respace,
    typo,
)

FORMATS = {
    "MK": r"[A-Z]{2} \d{4} [A-Z]{2}",
    "AL": r"[A-Z]{2} \d{3} [A-Z]{2}",
    "RS": r"[A-Z]{2} \d{3}-[A-Z]{2}",
    "XK": r"0[1-7]-\d{3}-[A-Z]{2}",
    "GR": rf"[{GREEK_LATIN}]{{3}}-\d{{4}}",
    "BG": rf"[{BG_LETTERS}]{{1,2}} \d{{4}} [{BG_LETTERS}]{{2}}",
}


@pytest.mark.parametrize("country", sorted(FORMATS))
def test_plate_formats(country: str) -> None:
    rng = random.Random(country)
    for _ in range(200):
        assert re.fullmatch(FORMATS[country], make_plate(rng, country))


def test_spelling_variants_normalise_equal_and_typos_do_not() -> None:
    rng = random.Random(1)
    cyrillic_seen = False
    for country in FORMATS:
        for _ in range(100):
            plate = make_plate(rng, country)
            assert normalise_plate(respace(rng, plate)) == normalise_plate(plate)
            typed = cyrillicise(rng, plate)
            cyrillic_seen |= typed != plate
            assert normalise_plate(typed) == normalise_plate(plate)
            assert normalise_plate(typed.lower()) == normalise_plate(plate)
            assert normalise_plate(typo(rng, plate)) != normalise_plate(plate)
    assert cyrillic_seen


def test_iso6346_check_digit_and_mrn() -> None:
    assert cargo.container_check_digit("CSQU305438") == 3  # the standard's worked example
    rng = random.Random(3)
    cid = cargo.container_id(rng)
    assert re.fullmatch(r"[A-Z]{4}\d{7}", cid)
    assert int(cid[-1]) == cargo.container_check_digit(cid[:10])
    assert len(cargo.mrn(rng, 2026, "MK")) == 18
