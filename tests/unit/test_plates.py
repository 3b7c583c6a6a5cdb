from __future__ import annotations

import pytest

from bordersync.plates import normalise_plate


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("SK 1234 AB", "SK1234AB"),
        ("sk-1234-ab", "SK1234AB"),
        ("SK.1234.AB", "SK1234AB"),
        ("СК 1234 АВ", "CK1234AB"),  # Cyrillic С К А В
        ("ВG 123-АВ", "BG123AB"),
        ("01-123-AB", "01123AB"),
        ("ѕк 1234 ав", "SK1234AB"),  # lower-case Cyrillic ѕ к а в
    ],
)
def test_normalise_plate(spelling: str, expected: str) -> None:
    assert normalise_plate(spelling) == expected


def test_cyrillic_and_latin_spellings_meet() -> None:
    assert normalise_plate("ТЕ 5678 КМ") == normalise_plate("te 5678 km")


def test_remembered_plates_normalise_as_before() -> None:
    """The cache gives what the translation gives, on a second sight and from a cold cache."""
    from bordersync import plates

    normalise_plate.cache_clear()
    spellings = ["SK 1234 AB", "sk-1234-ab", "СК 1234 АВ", "SK 1234 AB", "01-123-AB"]
    for spelling in spellings * 2:
        assert normalise_plate(spelling) == spelling.upper().translate(plates._TABLE)
    assert normalise_plate.cache_info().hits == 6
