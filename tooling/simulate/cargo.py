"""What a truck carries on paper: containers (ISO 6346), seals, declarations (MRN)."""

from __future__ import annotations

import random
import string

_OWNERS = ("MSC", "MAE", "CMA", "HLX", "COS", "EVE", "ONE", "YML", "ZIM", "OOL", "TGH", "TRI")
_ALNUM = string.ascii_uppercase + string.digits


def _letter_value(ch: str) -> int:
    # ISO 6346 skips multiples of 11: A=10, B=12, ..., K=21, L=23, ...
    value = 10
    for c in string.ascii_uppercase:
        if value % 11 == 0:
            value += 1
        if c == ch:
            return value
        value += 1
    raise ValueError(ch)


def container_check_digit(first10: str) -> int:
    total: int = sum(
        (int(ch) if ch.isdigit() else _letter_value(ch)) * (2 ** i) for i, ch in enumerate(first10)
    )
    return total % 11 % 10


def container_id(rng: random.Random) -> str:
    """ISO 6346: owner code (3 letters) + category U + 6-digit serial + check digit."""
    body = f"{rng.choice(_OWNERS)}U{rng.randint(0, 999_999):06d}"
    return f"{body}{container_check_digit(body)}"


def seal(rng: random.Random, admin: str) -> str:
    return f"{admin}{rng.randint(0, 9_999_999):07d}"


def mrn(rng: random.Random, year: int, country: str) -> str:
    """18 characters: year (2) + country (2) + 12 alphanumerics + procedure letter + check."""
    body = f"{year % 100:02d}{country}{''.join(rng.choice(_ALNUM) for _ in range(12))}"
    body += rng.choice("ABCDEJ")
    return body + str(sum(ord(c) for c in body) % 10)
