"""Plate normalisation: how two officers' spellings of one plate are recognised as the same."""

from __future__ import annotations

import functools

# Cyrillic capitals that look like Latin ones on North Macedonian, Serbian and Bulgarian keyboards.
_CYRILLIC_TWINS = {
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ј": "J", "Ѕ": "S", "І": "I",
}
_TABLE = str.maketrans({**_CYRILLIC_TWINS, " ": None, "-": None, ".": None, "\t": None})


@functools.lru_cache(maxsize=65536)
def normalise_plate(plate: str) -> str:
    """Upper case, separators dropped, Cyrillic look-alikes read as Latin.

    Upper-casing first means lower-case Cyrillic (``а``) maps too. Remembered (the most recent
    65,536 plates, in the C cache of ``functools.lru_cache``): a vehicle's events come in pairs,
    and a hit costs less than the translation's table lookups."""
    return plate.upper().translate(_TABLE)
