"""Plate normalisation: how two officers' spellings of one plate are recognised as the same."""

from __future__ import annotations

# Cyrillic capitals that look like Latin ones on North Macedonian, Serbian and Bulgarian keyboards.
_CYRILLIC_TWINS = {
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ј": "J", "Ѕ": "S", "І": "I",
}
_TABLE = str.maketrans({**_CYRILLIC_TWINS, " ": None, "-": None, ".": None, "\t": None})


_KNOWN: dict[str, str] = {}  # plate as given -> normalised: a vehicle's events come in pairs
_KNOWN_KEPT = 65536


def normalise_plate(plate: str) -> str:
    """Upper case, separators dropped, Cyrillic look-alikes read as Latin.

    Upper-casing first means lower-case Cyrillic (``а``) maps too. Remembered (cleared past
    ``_KNOWN_KEPT``): the translation's table lookups cost more than a dict's."""
    found = _KNOWN.get(plate)
    if found is None:
        if len(_KNOWN) >= _KNOWN_KEPT:
            _KNOWN.clear()
        found = _KNOWN[plate] = plate.upper().translate(_TABLE)
    return found
