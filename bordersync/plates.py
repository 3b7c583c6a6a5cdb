"""Plate normalisation: how two officers' spellings of one plate are recognised as the same."""

from __future__ import annotations

import functools

# Cyrillic capitals that look like Latin ones on North Macedonian, Serbian and Bulgarian keyboards.
_CYRILLIC_TWINS = {
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ј": "J", "Ѕ": "S", "І": "I",
}
_TABLE = str.maketrans({**_CYRILLIC_TWINS, " ": None, "-": None, ".": None, "\t": None})


@functools.lru_cache(maxsize=4096)
def normalise_plate(plate: str) -> str:
    """Upper case, separators dropped, Cyrillic look-alikes read as Latin.

    Upper-casing first means lower-case Cyrillic (``а``) maps too. Remembered (the most recent
    4,096 plates, in the C cache of ``functools.lru_cache``), because a hit costs less than the
    translation: the processor normalises each event's plate twice (``impossible_transit``), and
    a vehicle's events often come close together. Small, so it adds little to the memory a
    pending vehicle costs (``bordersync bench``'s ``bytes_per_pending_vehicle``)."""
    return plate.upper().translate(_TABLE)
