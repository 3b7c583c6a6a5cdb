"""Plate normalisation: how two officers' spellings of one plate are recognised as the same."""

from __future__ import annotations

# Cyrillic capitals that look like Latin ones on North Macedonian, Serbian and Bulgarian keyboards.
_CYRILLIC_TWINS = {
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ј": "J", "Ѕ": "S", "І": "I",
}
_TABLE = str.maketrans({**_CYRILLIC_TWINS, " ": None, "-": None, ".": None, "\t": None})


def normalise_plate(plate: str) -> str:
    """Upper case, separators dropped, Cyrillic look-alikes read as Latin.

    Upper-casing first means lower-case Cyrillic (``а``) maps too.
    """
    return plate.upper().translate(_TABLE)
