"""Licence plates as officers type them: national formats, spelling variants and genuine typos."""

from __future__ import annotations

import random
import string

from bordersync.plates import normalise_plate

# City / region prefixes seen on real plates (a representative subset).
_MK_CITIES = ("SK", "BT", "KU", "OH", "ST", "TE", "GV", "VE", "KO", "KI", "KP", "PP", "PE",
              "RA", "SR", "SU", "DE", "GE", "NE", "VV", "KA", "KR", "DH", "RE")
_RS_CITIES = ("BG", "NS", "NI", "KG", "SU", "ZR", "PA", "SO", "VR", "LE", "PO", "UE", "KV", "SM")
_BG_REGIONS = ("CB", "CA", "C", "PB", "A", "B", "BP", "E", "EB", "EH", "K", "KH", "M", "PA",
               "PK", "CH", "CT", "T", "TX", "X", "Y", "H", "OB", "CO", "BT", "CM", "PP", "CC")
# Letters of plates written with glyphs common to Greek and Latin (and Bulgarian ones with
# glyphs common to Cyrillic and Latin).
GREEK_LATIN = "ABEZHIKMNOPTYX"
BG_LETTERS = "ABEKMHOPCTYX"
_AL_LETTERS = "ABCDEFGHIJKLMNOPRSTUVXZ"
_SUFFIX = "ABCDEFGHIJKLMNOPRSTUVXZ"

# Latin letters an officer on a Cyrillic keyboard may type as their Cyrillic twin.
CYRILLIC_TWIN = {
    "A": "А", "B": "В", "E": "Е", "K": "К", "M": "М", "H": "Н", "O": "О", "P": "Р", "C": "С",
    "T": "Т", "Y": "У", "X": "Х", "J": "Ј", "S": "Ѕ", "I": "І",
}
CYRILLIC_KEYBOARDS = frozenset({"MK", "RS", "BG"})
FORMATS = ("MK", "AL", "RS", "XK", "GR", "BG")


def _letters(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def make_plate(rng: random.Random, country: str) -> str:
    """A plate in the canonical printed form of ``country`` (one of ``FORMATS``)."""
    if country == "MK":
        return f"{rng.choice(_MK_CITIES)} {_digits(rng, 4)} {_letters(rng, _SUFFIX, 2)}"
    if country == "AL":
        return f"{_letters(rng, _AL_LETTERS, 2)} {_digits(rng, 3)} {_letters(rng, _AL_LETTERS, 2)}"
    if country == "RS":
        return f"{rng.choice(_RS_CITIES)} {_digits(rng, 3)}-{_letters(rng, _SUFFIX, 2)}"
    if country == "XK":
        return f"0{rng.randint(1, 7)}-{_digits(rng, 3)}-{_letters(rng, _SUFFIX, 2)}"
    if country == "GR":
        return f"{_letters(rng, GREEK_LATIN, 3)}-{rng.randint(1000, 9999)}"
    if country == "BG":
        return f"{rng.choice(_BG_REGIONS)} {_digits(rng, 4)} {_letters(rng, BG_LETTERS, 2)}"
    raise ValueError(f"no plate format for {country!r}")


def respace(rng: random.Random, plate: str) -> str:
    """The same plate spelled differently: spacing, case, hyphens or dots (normalises equal)."""
    compact = plate.replace(" ", "").replace("-", "")
    style = rng.randrange(5)
    if style == 0:
        return compact
    if style == 1:
        return plate.lower()
    if style == 2:
        return plate.replace(" ", "-")
    if style == 3:
        return plate.replace("-", " ")
    return " ".join(compact[i:i + 2] for i in range(0, len(compact), 2))


def cyrillicise(rng: random.Random, plate: str) -> str:
    """Some Latin letters typed as their Cyrillic look-alikes (at least one when possible)."""
    positions = [i for i, ch in enumerate(plate) if ch in CYRILLIC_TWIN]
    if not positions:
        return plate
    chosen = set(rng.sample(positions, rng.randint(1, len(positions))))
    return "".join(CYRILLIC_TWIN[ch] if i in chosen else ch for i, ch in enumerate(plate))


def typo(rng: random.Random, plate: str) -> str:
    """A genuine mistake: one digit changed, so the plate no longer normalises equal."""
    positions = [i for i, ch in enumerate(plate) if ch.isdigit()]
    i = rng.choice(positions)
    wrong = rng.choice([d for d in string.digits if d != plate[i]])
    return plate[:i] + wrong + plate[i + 1:]


def same_plate(a: str, b: str) -> bool:
    return normalise_plate(a) == normalise_plate(b)
